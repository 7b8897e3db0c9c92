"""Benchmark: does the corpus job hold as the crawl grows? N and 4N pages of an adversarial crawl.

    python bench/scale.py [--pages 5000] [--factor 4] [--rounds 1] [--workers 2]

Input: `bench/scale_input.py` (built once per size, cached under ``bench/.cache/``): real
article pages made distinct, every page with the same logo and boilerplate paragraph, 30% of
them near-duplicates of one story, and one host (a loopback HTTP server this script starts)
serving half of all images; the other half are crawl records on 37 hosts. Prints "skipped"
and exits 0 without ``../shared/data/article-extraction``.

Each run is ``flamingo corpus`` on the default runner (FnApiRunner, ``--workers`` SDK worker
processes) in a fresh launcher process, with ``--image.allow_private_networks true`` (the
server is on loopback) and ``--image.per_host_rate 0 --image.per_host_concurrency 16`` (no
politeness delay towards our own server; the busy host is still fetched in one place, by
design). Reported per run: wall time, the peak RSS (``VmHWM``) of every SDK worker process,
sampled every 0.2 s from /proc (descendants of that launcher only), the launcher's own peak
RSS (it is also the embedded runner, which holds every shuffle in memory: on Dataflow that is
the shuffle service), and the load average. Targets: largest worker's peak RSS at 4N <= 1.25x
at N; wall time at 4N <= 4.5x at N.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "article-extraction"
CACHE = ROOT / "bench" / ".cache"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "WANDB_MODE": "disabled",
       "NO_ALBUMENTATIONS_UPDATE": "1", "TOKENIZERS_PARALLELISM": "false"}
for _k, _v in ENV.items():
    os.environ.setdefault(_k, _v)
# Beam's worker processes import this checkout too, from any working directory.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)

RSS_TARGET, WALL_TARGET = 1.25, 4.5


# --- the busy image host --------------------------------------------------------------------


def serve(port: int, seed: int) -> None:
    """The loopback host that serves every even image (``/img/<i>.jpg``); 404 for the rest."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from corpus_input import render_image

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 -- http.server's naming
            name = self.path.split("?")[0]
            if name.startswith("/img/") and name.endswith(".jpg") and name[5:-4].isdigit():
                body, code, ctype = render_image(int(name[5:-4]), seed), 200, "image/jpeg"
            else:
                body, code, ctype = b"not found", 404, "text/plain"
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


# --- one run, in its own launcher process -----------------------------------------------------


def _descends_from(pid: int, root: int) -> bool:
    for _ in range(8):
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        if pid == root:
            return True
        if pid <= 1:
            return False
    return False


class WorkerRss(threading.Thread):
    """Peak RSS (VmHWM, kB) of every SDK worker process this launcher starts."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks: dict[int, int] = {}
        self._done = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self._done.wait(0.2):
            for name in os.listdir("/proc"):
                if not name.isdigit():
                    continue
                pid = int(name)
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        argv = f.read().split(b"\0")
                    # the worker itself, not the shell the runner starts it through
                    if b"pipeline.beam.worker" not in argv or b"python" not in os.path.basename(argv[0]):
                        continue
                    if pid not in self.peaks and not _descends_from(pid, me):
                        continue
                    with open(f"/proc/{pid}/status") as f:
                        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
                except (OSError, StopIteration, ValueError):
                    continue
                self.peaks[pid] = max(self.peaks.get(pid, 0), hwm)

    def stop(self) -> dict[int, int]:
        self._done.set()
        self.join()
        return self.peaks


def run_one(inputs: list[str], out: str, workers: int) -> dict:
    from pipeline.jobs import corpus

    monitor = WorkerRss()
    monitor.start()
    t0 = time.perf_counter()
    stats = corpus.run(["--input", *inputs, "--output", out, f"--direct_num_workers={workers}",
                        "--image.allow_private_networks", "true", "--image.per_host_rate", "0",
                        "--image.per_host_concurrency", "16"])
    wall = time.perf_counter() - t0
    peaks = monitor.stop()
    c = stats["counters"]
    return {"wall_s": round(wall, 1), "worker_peak_rss_mb": sorted(round(v / 1024) for v in peaks.values()),
            "launcher_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "load": round(os.getloadavg()[0], 1), "pages": c["read"]["pages"],
            "near_duplicates": c["dedup"].get("near_duplicate", 0),
            "repeated_images": c["image_refs"].get("repeated_image", 0),
            "images_http": c["images"].get("source_http", 0), "images_crawl": c["images"].get("source_crawl", 0),
            "sequences": stats["samples"]}


# --- orchestration ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=5000)
    ap.add_argument("--factor", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--port", type=int, default=18765)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--run-one", nargs=2, metavar=("INPUTS_JSON", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.port, 0)
        return 0
    if args.run_one:
        import logging

        logging.basicConfig(level=logging.WARNING)
        print(json.dumps(run_one(json.loads(args.run_one[0]), args.run_one[1], args.workers)))
        return 0
    if not (DATA / "html").is_dir():
        print(f"skipped: {DATA} not found (the benchmark pages live beside the project)")
        return 0
    import tempfile

    from scale_input import ScaleSpec, build

    sizes = [args.pages, args.pages * args.factor]
    specs = {n: ScaleSpec(pages=n, port=args.port) for n in sizes}
    for n, spec in specs.items():
        t0 = time.perf_counter()
        paths = build(DATA, spec, CACHE)
        mb = sum(os.path.getsize(p) for p in paths) / 1e6
        print(f"input {n:,} pages: {len(paths)} WARC.gz files, {mb:.0f} MB, {spec.images:,} images "
              f"({time.perf_counter() - t0:.0f} s to build or find)", flush=True)
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--port", str(args.port)])
    results: dict[int, list[dict]] = {n: [] for n in sizes}
    print(f"\nmachine: {os.cpu_count()} cores, {args.workers} workers, load average "
          f"{os.getloadavg()[0]:.1f} before the runs\n")
    print("| pages | round | wall s | worker peak RSS MB (each) | launcher peak RSS MB | near-dups | "
          "repeated image refs | images http / crawl | sequences | load after |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    try:
        time.sleep(1.0)
        for r in range(args.rounds):
            for n in (sizes if r % 2 == 0 else sizes[::-1]):
                with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
                    inputs = build(DATA, specs[n], CACHE)
                    done = subprocess.run([sys.executable, __file__, "--workers", str(args.workers), "--run-one",
                                           json.dumps(inputs), os.path.join(tmp, "out")],
                                          capture_output=True, text=True, env={**os.environ, **ENV})
                    if done.returncode != 0:
                        print(done.stderr[-3000:])
                        return 1
                    res = json.loads(done.stdout.strip().splitlines()[-1])
                results[n].append(res)
                print(f"| {n:,} | {r + 1} | {res['wall_s']} | {max(res['worker_peak_rss_mb'])} "
                      f"({', '.join(map(str, res['worker_peak_rss_mb']))}) | {res['launcher_peak_rss_mb']} | "
                      f"{res['near_duplicates']:,} | {res['repeated_images']:,} | {res['images_http']:,} / "
                      f"{res['images_crawl']:,} | {res['sequences']:,} | {res['load']} |", flush=True)
    finally:
        server.terminate()
        server.wait()
    small, big = sizes
    rss = [max(max(x["worker_peak_rss_mb"]) for x in results[n]) for n in sizes]
    wall = [min(x["wall_s"] for x in results[n]) for n in sizes]
    print(f"\nlargest worker's peak RSS: {rss[0]} MB at {small:,} pages, {rss[1]} MB at {big:,}: "
          f"{rss[1] / rss[0]:.2f}x (target <= {RSS_TARGET}x)")
    print(f"wall time (best of rounds): {wall[0]} s at {small:,}, {wall[1]} s at {big:,}: "
          f"{wall[1] / wall[0]:.2f}x for {args.factor}x the pages (target <= {WALL_TARGET}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
