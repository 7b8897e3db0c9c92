"""Benchmark: our safe image fetcher vs img2dataset's downloader, side by side.

Loopback server processes (several, on one shared listening socket, each response
built whole in memory beforehand, so the server is not the bottleneck; none shares
a GIL with either side) serve ~1,000 distinct real photos derived from
scikit-image's sample data (random crops, sizes 300-1600 px, JPEG quality 60-95).
Both sides fetch,
decode, resize (longest side 256, never upscaled), filter (min side 150,
aspect <= 3), re-encode (JPEG q90), sha256 and write files, with the same
thread count and one process. Ours runs with every safety check on (address
pinning, robots.txt, caps, deadlines, magic bytes); private networks are
allowed only so it can reach loopback, and per-host limits are lifted because
all URLs share one host (img2dataset has no per-host limits).

CPU per image is the client's: ``getrusage`` of this process plus its reaped
children (img2dataset's worker process); the server processes run beside it and
their CPU is reported on its own line. Rounds alternate which side goes first; the
summary gives each ratio's spread over the rounds and the load average.

    python bench/images.py --n 1000 --threads 16 --rounds 3
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
import statistics
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


def prepared_responses(photos: list[bytes]) -> dict[bytes, tuple[bytes, bytes]]:
    """Request path -> (keep-alive response, closing response), whole, built once: serving is then a
    dictionary look-up and one write, so the server's CPU per request is as small as it gets."""

    def response(body: bytes, ctype: bytes, close: bool) -> bytes:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (ctype, len(body))
        return head + (b"Connection: close\r\n" if close else b"") + b"\r\n" + body

    out = {}
    robots = b"User-agent: *\nAllow: /\n"
    out[b"/robots.txt"] = (response(robots, b"text/plain", False), response(robots, b"text/plain", True))
    for i, body in enumerate(photos):
        out[b"/p/%d.jpg" % i] = (response(body, b"image/jpeg", False), response(body, b"image/jpeg", True))
    return out


def serve(responses: dict[bytes, tuple[bytes, bytes]], sock) -> None:
    """One server process: a minimal asyncio HTTP/1.1 loop over prepared responses, accepting on the
    listening socket it shares with the other server processes (the kernel spreads connections).
    Keep-alive unless the client asks to close."""
    import asyncio

    missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                close = b"connection: close" in head.lower()
                pair = responses.get(path)
                writer.write(missing if pair is None else pair[close])
                await writer.drain()
                if close or pair is None:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, sock=sock, backlog=1024)
        await server.serve_forever()

    asyncio.run(main())


def start_servers(photos: list[bytes], processes: int) -> tuple[int, list]:
    """``processes`` server processes on one loopback port (a listening socket shared by fork)."""
    import socket

    responses = prepared_responses(photos)
    sock = socket.create_server(("127.0.0.1", 0), backlog=1024)
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=serve, args=(responses, sock), daemon=True) for _ in range(processes)]
    for proc in procs:
        proc.start()
    port = sock.getsockname()[1]
    sock.close()  # the children hold it
    return port, procs


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


def process_cpu_seconds(pids: list[int]) -> float:
    """utime + stime of running processes (the servers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


def measure(name: str, fn, urls: list[str], args, servers: list, fixed_cpu: float = 0.0) -> dict:
    with tempfile.TemporaryDirectory(dir=args.out_dir) as tmp:
        out_dir = Path(tmp) / "out"
        out_dir.mkdir()
        server0, load0 = process_cpu_seconds([p.pid for p in servers]), os.getloadavg()[0]
        cpu0, t0 = cpu_seconds(), time.perf_counter()
        ok = fn(urls, args.threads, out_dir)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
        server = process_cpu_seconds([p.pid for p in servers]) - server0
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
        "server_cpu_ms_per_image": 1000 * server / max(ok, 1),
        "server_busy": server / wall / max(1, len(servers)),
        "load": (load0, os.getloadavg()[0]),
    }
    print(
        f"{name:12s} ok={ok:5d}  wall={wall:6.2f}s  {row['images_per_s']:7.1f} img/s end to end  "
        f"{row['shard_images_per_s']:7.1f} img/s in-shard  cpu={row['cpu_ms_per_image']:6.2f} ms/img "
        f"({row['net_cpu_ms_per_image']:5.2f} without fixed start-up)  server {row['server_cpu_ms_per_image']:.2f} "
        f"ms/img, each process {100 * row['server_busy']:.0f}% busy  load {load0:.1f}-{row['load'][1]:.1f}",
        flush=True,
    )
    return row


def quality(photos: list[bytes]) -> None:
    """PSNR of each side's stored image against an ideal resize of the same photo (full decode,
    Pillow LANCZOS to the stored size): ours (``process_image``) and img2dataset's own resizer
    with the benchmark's settings. Both include their JPEG q90 re-encode."""
    from img2dataset.resizer import Resizer

    from pipeline.images import ImageConfig, process_image

    resizer = Resizer(256, "keep_ratio_largest", True, encode_quality=90, min_image_size=150, max_aspect_ratio=3.0)
    config = ImageConfig(image_size=256, jpeg_quality=90)
    scores: dict[str, list[float]] = {"ours": [], "img2dataset": []}
    for data in photos:
        stored = {"ours": process_image(data, config).data, "img2dataset": resizer(io.BytesIO(data))[0]}
        if None in stored.values():
            continue  # too small after cropping, on both sides
        for name, out in stored.items():
            got = np.asarray(Image.open(io.BytesIO(out)).convert("RGB"), dtype=np.float64)
            ideal = Image.open(io.BytesIO(data)).convert("RGB").resize(got.shape[1::-1], Image.Resampling.LANCZOS)
            mse = ((got - np.asarray(ideal, dtype=np.float64)) ** 2).mean()
            scores[name].append(10 * np.log10(255**2 / max(mse, 1e-9)))
    for name, values in scores.items():
        print(
            f"quality {name:12s} PSNR vs full-decode LANCZOS over {len(values)} photos: median "
            f"{np.median(values):.1f} dB, 10th percentile {np.percentile(values, 10):.1f} dB"
        )


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f} (median {statistics.median(values):.2f})"


def summarise(rows: list[dict], rounds: int) -> None:
    """Per-round ratios (the two sides of a round ran back to back), their spread, and the targets."""
    pairs = [
        (next(r for r in rows[2 * i : 2 * i + 2] if r["name"] == "ours"),
         next(r for r in rows[2 * i : 2 * i + 2] if r["name"] == "img2dataset"))
        for i in range(rounds)
    ]
    shard = [o["shard_images_per_s"] / b["shard_images_per_s"] for o, b in pairs]
    e2e = [o["images_per_s"] / b["images_per_s"] for o, b in pairs]
    net = [o["net_cpu_ms_per_image"] / b["net_cpu_ms_per_image"] for o, b in pairs]
    total = [o["cpu_ms_per_image"] / b["cpu_ms_per_image"] for o, b in pairs]
    loads = [x for r in rows for x in r["load"]]
    print(f"--- summary over {rounds} round(s), load average (1-min) {min(loads):.1f}-{max(loads):.1f} ---")
    for name in ("ours", "img2dataset"):
        mine = [r for r in rows if r["name"] == name]
        print(
            f"{name:12s} in-shard img/s {spread([r['shard_images_per_s'] for r in mine])}; "
            f"CPU ms/img without start-up {spread([r['net_cpu_ms_per_image'] for r in mine])}"
        )
    print(f"ratio ours/img2dataset images/s in-shard:   {spread(shard)}   (target >= 3)")
    print(f"ratio ours/img2dataset images/s end to end: {spread(e2e)}")
    print(f"ratio ours/img2dataset CPU/img without start-up: {spread(net)}   (target <= 0.5)")
    print(f"ratio ours/img2dataset CPU/img with start-up:    {spread(total)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both sides, order alternating")
    parser.add_argument(
        "--server-processes", type=int, default=2, help="loopback server processes (one port, shared)"
    )
    parser.add_argument(
        "--out-dir",
        default="/dev/shm" if os.access("/dev/shm", os.W_OK) else None,
        help="where both sides write their files (default: tmpfs, so disk metadata costs stay out)",
    )
    parser.add_argument("--ours-path", help="import our pipeline from this tree (e.g. an older commit)")
    parser.add_argument("--quality", type=int, default=0, help="also score this many photos' stored images (PSNR)")
    args = parser.parse_args(argv)
    if args.ours_path:
        sys.path.insert(0, args.ours_path)
    logging.basicConfig(level=logging.WARNING)
    try:
        import img2dataset  # noqa: F401  (imported before timing: its import takes seconds)
        import skimage  # noqa: F401
    except ImportError as err:
        print(f"skipped: {err}")
        return 0
    photos = make_photos(args.n)
    if args.quality:
        quality(photos[: args.quality])
    print(
        f"{len(photos)} photos, {sum(map(len, photos)) / len(photos) / 1024:.0f} KiB mean, threads={args.threads}, "
        f"server processes={args.server_processes}, output in {args.out_dir or tempfile.gettempdir()}"
    )
    port, servers = start_servers(photos, args.server_processes)
    urls = [f"http://127.0.0.1:{port}/p/{i}.jpg" for i in range(len(photos))]
    sides = {"img2dataset": run_img2dataset, "ours": run_ours}
    rows = []
    try:
        # A warm-up call each (imports), then the fixed cost of one call from a one-URL run: process
        # start-up and logger for img2dataset (every call), pool and robots.txt for ours.
        fixed = {}
        for name, fn in sides.items():
            measure(name, fn, urls[:1], args, servers)
            fixed[name] = measure(name, fn, urls[:1], args, servers)["cpu"]
        print("--- measured runs ---")
        for i in range(args.rounds):
            for name in ("img2dataset", "ours") if i % 2 == 0 else ("ours", "img2dataset"):
                rows.append(measure(name, sides[name], urls, args, servers, fixed[name]))
    finally:
        for server in servers:
            server.kill()
    summarise(rows, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
