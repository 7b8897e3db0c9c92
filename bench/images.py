"""Benchmark: our safe image fetcher vs img2dataset's downloader, side by side.

A loopback server (its own process, so neither side shares a GIL with it)
serves ~1,000 distinct real photos derived from scikit-image's sample data
(random crops, sizes 300-1600 px, JPEG quality 60-95). Both sides fetch,
decode, resize (longest side 256, never upscaled), filter (min side 150,
aspect <= 3), re-encode (JPEG q90), sha256 and write files, with the same
thread count and one process. Ours runs with every safety check on (address
pinning, robots.txt, caps, deadlines, magic bytes); private networks are
allowed only so it can reach loopback, and per-host limits are lifted because
all URLs share one host (img2dataset has no per-host limits).

    python bench/images.py --n 1000 --threads 16
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import multiprocessing as mp
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

SOURCES = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
)


def make_photos(n: int, seed: int = 0) -> list[bytes]:
    """``n`` distinct JPEGs: random crops of real photos at varied sizes and qualities."""
    from skimage import data

    rng = random.Random(seed)
    bases = [Image.fromarray(np.asarray(getattr(data, name)())).convert("RGB") for name in SOURCES]
    photos = []
    for _ in range(n):
        base = rng.choice(bases)
        w, h = base.size
        cw, ch = rng.randint(w // 2, w), rng.randint(h // 2, h)
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        longest = rng.randint(300, 1600)
        scale = longest / max(cw, ch)
        crop = base.crop((x, y, x + cw, y + ch)).resize(
            (max(1, round(cw * scale)), max(1, round(ch * scale)))
        )
        out = io.BytesIO()
        crop.save(out, format="JPEG", quality=rng.randint(60, 95))
        photos.append(out.getvalue())
    return photos


def serve(photos: list[bytes], port_queue: mp.Queue) -> None:
    """A minimal asyncio HTTP/1.1 server: cheaper per request than http.server's threads, so
    the server (same for both sides) is less of the bottleneck. Keep-alive unless asked to close."""
    import asyncio

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                if path == "/robots.txt":
                    body, ctype = b"User-agent: *\nAllow: /\n", b"text/plain"
                else:
                    body, ctype = photos[int(path.rsplit("/", 1)[1].split(".")[0])], b"image/jpeg"
                close = b"connection: close" in head.lower()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: "
                    + ctype
                    + b"\r\nContent-Length: "
                    + str(len(body)).encode()
                    + (b"\r\nConnection: close" if close else b"")
                    + b"\r\n\r\n"
                    + body
                )
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        port_queue.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def cpu_seconds() -> float:
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_ours(urls: list[str], threads: int, out_dir: Path) -> int:
    from pipeline.images import ImageConfig, ImageFetcher, ImageRequest

    config = ImageConfig(
        image_size=256,
        jpeg_quality=90,
        threads=threads,
        allow_private_networks=True,
        per_host_concurrency=threads,
        per_host_rate=0.0,
        retries=0,
        timeout_s=10.0,
    )
    with ImageFetcher(config) as fetcher:
        results = fetcher.fetch_many(ImageRequest(u) for u in urls)
    for i, r in enumerate(results):  # written like img2dataset's "files" output: image + json
        if r.ok:
            (out_dir / f"{i:09d}.jpg").write_bytes(r.data)
        meta = {
            "url": r.url,
            "status": r.status,
            "width": r.width,
            "height": r.height,
            "sha256": r.sha256,
        }
        (out_dir / f"{i:09d}.json").write_text(json.dumps(meta))
    return sum(r.ok for r in results)


def run_img2dataset(urls: list[str], threads: int, out_dir: Path) -> int:
    from img2dataset import download

    url_file = out_dir.parent / "urls.txt"
    url_file.write_text("\n".join(urls) + "\n")
    download(
        url_list=str(url_file),
        output_folder=str(out_dir),
        processes_count=1,
        thread_count=threads,
        image_size=256,
        resize_mode="keep_ratio_largest",
        resize_only_if_bigger=True,
        encode_quality=90,
        output_format="files",
        input_format="txt",
        min_image_size=150,
        max_aspect_ratio=3.0,
        extract_exif=False,
        timeout=10,
        retries=0,
        number_sample_per_shard=100_000,
        distributor="multiprocessing",
    )
    return len(list(out_dir.rglob("*.jpg")))


def img2dataset_shard_seconds(out_dir: Path) -> float:
    """Time img2dataset's own shard stats report (download+resize+write, no process start-up)."""
    stats = [json.loads(p.read_text()) for p in out_dir.glob("*_stats.json")]
    return sum(s["duration"] for s in stats)


def measure(name: str, fn, urls: list[str], threads: int, fixed_cpu: float = 0.0) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp) / "out"
        out_dir.mkdir()
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        ok = fn(urls, threads, out_dir)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
        shard = img2dataset_shard_seconds(out_dir) if name == "img2dataset" else wall
    row = {
        "name": name,
        "ok": ok,
        "wall_s": wall,
        "images_per_s": ok / wall,
        "cpu_ms_per_image": 1000 * cpu / max(ok, 1),
        "shard_images_per_s": ok / shard,
        "cpu": cpu,
        "net_cpu_ms_per_image": 1000 * (cpu - fixed_cpu) / max(ok, 1),
    }
    print(
        f"{name:12s} ok={ok:5d}  wall={wall:6.2f}s  {row['images_per_s']:7.1f} img/s end to end  "
        f"{row['shard_images_per_s']:7.1f} img/s in-shard  cpu={row['cpu_ms_per_image']:6.2f} ms/img "
        f"({row['net_cpu_ms_per_image']:5.2f} without fixed start-up)",
        flush=True,
    )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternate the two sides this many times"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    try:
        import img2dataset  # noqa: F401  (imported before timing: its import takes seconds)
        import skimage  # noqa: F401
    except ImportError as err:
        print(f"skipped: {err}")
        return 0
    photos = make_photos(args.n)
    print(
        f"{len(photos)} photos, {sum(map(len, photos)) / len(photos) / 1024:.0f} KiB mean, threads={args.threads}"
    )
    ctx = mp.get_context("fork")
    ports = ctx.Queue()
    server = ctx.Process(target=serve, args=(photos, ports), daemon=True)
    server.start()
    port = ports.get(timeout=30)
    urls = [f"http://127.0.0.1:{port}/p/{i}.jpg" for i in range(len(photos))]
    rows = []
    try:
        # Fixed cost of one call (process start-up, logger, robots.txt) from a one-URL run.
        fixed = {
            name: measure(name, fn, urls[:1], args.threads)["cpu"]
            for name, fn in (("img2dataset", run_img2dataset), ("ours", run_ours))
        }
        print("--- measured runs ---")
        for _ in range(args.rounds):
            rows.append(
                measure("img2dataset", run_img2dataset, urls, args.threads, fixed["img2dataset"])
            )
            rows.append(measure("ours", run_ours, urls, args.threads, fixed["ours"]))
    finally:
        server.kill()
    for key, label in (
        ("images_per_s", "end to end"),
        ("shard_images_per_s", "in-shard (img2dataset start-up excluded)"),
    ):
        best = {
            name: max(r[key] for r in rows if r["name"] == name) for name in ("ours", "img2dataset")
        }
        print(
            f"ratio ours/img2dataset, images/s {label}, best of {args.rounds}: {best['ours'] / best['img2dataset']:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
