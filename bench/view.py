"""`flamingo view` on a 10,000-sample shard: time per page through the real HTTP server.

    python bench/view.py [--samples 10000] [--side 128] [--pages 20] [--dir DIR]

Builds (or reuses, in ``--dir``) an interleaved shard of ``--samples`` samples with 1-5 JPEG
images each, serves it with the viewer on 127.0.0.1 and times, over HTTP with keep-alive:
the first list page (the parquet index is read), random list pages, the last one, sample
pages, a page's 50 thumbnails, a text search (cold, then warm), and the first page of the
same shard without the index's place columns (the one-time header scan older shards need).
Baseline, same run: reaching the same samples by streaming the tar from the start, as a
reader without places must (``pipeline.shards.reader.iter_raw``). Prints one JSON line per
figure and the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WORD = "archaeopteryx"  # in the text of exactly one sample, near the end


def build_shard(folder: str, n: int, side: int) -> str:
    """``view-00000.tar`` (+ index, manifest) with ``n`` samples; returns the tar's path."""
    import io

    from PIL import Image

    from pipeline.shards import format as sf
    from pipeline.shards import writer

    path = os.path.join(folder, "view-00000.tar")
    if os.path.exists(path):
        return path
    rng = random.Random(0)
    pool = []
    for i in range(16):  # a few distinct real-looking JPEGs, reused
        im = Image.effect_mandelbrot((side, side * 3 // 4), (-2 + i * 0.05, -1.2, 1, 1.2), 60).convert("RGB")
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=85)
        pool.append(buf.getvalue())

    def samples():
        for i in range(n):
            url = f"https://bench.example/page/{i // 3}"
            images, segments = [], [sf.TextSegment(f"Document {i // 3}, part {i % 3}. ")]
            for j in range(1 + i % 5):
                data = pool[(i + j) % len(pool)]
                images.append(sf.ImageRef(f"https://img.example/{i}/{j}.jpg", sf.sha256_hex(data), side,
                                          side * 3 // 4, f"figure {j} of sample {i}", data=data))
                words = " ".join(rng.choice(("river", "heron", "stone", "market", "winter")) for _ in range(30))
                segments += [sf.ImageSlot(j), sf.TextSegment(words + (f" {WORD}" if i == n - 7 and j == 0 else ""))]
            yield sf.InterleavedSample(sf.make_key(url, i % 3), url, f"doc{i // 3}", i % 3, 200, "bench", segments,
                                       images)

    writer.write_shard(folder, "view-00000", samples())
    return path


class Client:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str) -> tuple[float, int, bytes]:
        t = time.perf_counter()
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        body = resp.read()
        return time.perf_counter() - t, resp.status, body


def serve(paths: list[str]):
    from pipeline.view.catalog import Catalog
    from pipeline.view.server import App, serve

    server = serve(App(Catalog(paths)), "127.0.0.1", 0)
    return server, Client(server.server_address[1])


def timed(client: Client, path: str) -> float:
    seconds, status, _ = client.get(path)
    assert status == 200, (path, status)
    return seconds


def measure(tar: str, pages: int, seed: int = 1) -> dict:
    """Seconds per request, by kind, through a fresh server."""
    from urllib.parse import quote

    import pyarrow.parquet as pq

    rng = random.Random(seed)
    keys = pq.read_table(tar[:-4] + ".parquet", columns=["key"])["key"].to_pylist()
    n_pages = -(-len(keys) // 50)
    server, client = serve([tar])
    try:
        out = {"first_page": timed(client, "/shard?s=0&page=0")}
        out["pages"] = [timed(client, f"/shard?s=0&page={rng.randrange(n_pages)}") for _ in range(pages)]
        out["last_page"] = timed(client, f"/shard?s=0&page={n_pages - 1}")
        picks = [rng.randrange(len(keys)) for _ in range(pages)]
        out["samples"] = [timed(client, f"/sample?s=0&k={keys[i]}") for i in picks]
        page = rng.randrange(n_pages)
        t = time.perf_counter()
        for key in keys[page * 50:(page + 1) * 50]:
            timed(client, f"/thumb?s=0&k={key}")
        out["thumbs_of_a_page"] = time.perf_counter() - t
        out["search_cold"] = timed(client, f"/search?q={quote(WORD)}&s=0")
        out["search_warm"] = timed(client, f"/search?q={quote(WORD)}&s=0")
        out["picks"] = picks
    finally:
        server.shutdown()
    return out


def baseline(tar: str, picks: list[int]) -> list[float]:
    """Seconds to reach each picked sample by streaming the tar from its start."""
    from pipeline.shards import reader

    out = []
    for target in picks:
        t = time.perf_counter()
        with open(tar, "rb") as f:
            for n, _ in enumerate(reader.iter_raw(f, tar)):
                if n == target:
                    break
        out.append(time.perf_counter() - t)
    return out


def without_places(tar: str, folder: str) -> str:
    """A copy of the shard whose index lacks tar_offset/tar_size (as shards written before them)."""
    import pyarrow.parquet as pq

    from pipeline.shards import index

    old = os.path.join(folder, "old-00000.tar")
    if not os.path.exists(old):
        shutil.copyfile(tar, old)
        table = pq.read_table(tar[:-4] + ".parquet").drop([index.OFFSET_COLUMN, index.SIZE_COLUMN])
        pq.write_table(table, old[:-4] + ".parquet")
    return old


def summary(values: list[float]) -> dict:
    return {"n": len(values), "median_ms": round(1000 * statistics.median(values), 1),
            "max_ms": round(1000 * max(values), 1)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--side", type=int, default=128, help="image width in pixels")
    ap.add_argument("--pages", type=int, default=20, help="random list pages and sample pages to time")
    ap.add_argument("--dir", help="where the shard is built (reused if there); default: a temporary folder")
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args(argv)
    folder = args.dir or tempfile.mkdtemp(prefix="bench-view-")
    os.makedirs(folder, exist_ok=True)
    load_before = os.getloadavg()
    t = time.perf_counter()
    tar = build_shard(folder, args.samples, args.side)
    built = time.perf_counter() - t
    ours = measure(tar, args.pages)
    old = measure(without_places(tar, folder), 3)
    result = {
        "samples": args.samples, "shard_mb": round(os.path.getsize(tar) / 2**20, 1), "build_s": round(built, 1),
        "first_page_ms": round(1000 * ours["first_page"], 1), "list_pages": summary(ours["pages"]),
        "last_page_ms": round(1000 * ours["last_page"], 1), "sample_pages": summary(ours["samples"]),
        "thumbs_of_a_page_ms": round(1000 * ours["thumbs_of_a_page"], 1),
        "search_cold_ms": round(1000 * ours["search_cold"], 1), "search_warm_ms": round(1000 * ours["search_warm"], 1),
        "no_places_first_page_ms": round(1000 * old["first_page"], 1),
        "no_places_list_pages": summary(old["pages"]),
    }
    if not args.no_baseline:
        result["baseline_stream_to_sample"] = summary(baseline(tar, ours["picks"][:5]))
    result["load_before"] = [round(x, 2) for x in load_before]
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result["cpus"] = os.cpu_count()
    print(json.dumps(result))
    if not args.dir:
        shutil.rmtree(folder, ignore_errors=True)
    return result


if __name__ == "__main__":
    main()
