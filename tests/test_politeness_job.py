"""Per-host politeness holds for the whole job: network fetches are keyed by host, so two worker
together stay within one host's rate and concurrency (before, each fetcher instance
on each worker had its own allowance)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from images_support import photo

from pipeline.jobs import pairs

N, RATE = 12, 8.0


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 -- http.server's naming
        server = self.server
        with server.lock:
            server.active += 1
            server.peak = max(server.peak, server.active)
            server.starts.append(time.monotonic())
        try:
            body = server.jpeg if self.path.startswith("/img/") else b"no"
            self.send_response(200 if self.path.startswith("/img/") else 404)
            self.send_header("Content-Type", "image/jpeg" if self.path.startswith("/img/") else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            time.sleep(0.05)  # a little server time, so overlapping requests would show
            self.wfile.write(body)
        finally:
            with server.lock:
                server.active -= 1


class CountingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock, self.active, self.peak, self.starts = threading.Lock(), 0, 0, []
        self.jpeg = photo("astronaut", (320, 240))
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_one_hosts_rate_and_concurrency_hold_across_workers(tmp_path):
    server = CountingServer()
    try:
        port = server.server_address[1]
        lst = tmp_path / "list.tsv"
        lst.write_text("url\tcaption\n" + "".join(
            f"http://127.0.0.1:{port}/img/{i}.jpg\ta photograph of an astronaut number {i}\n" for i in range(N)))
        # two workers, each with its own DoFn instances (threads here, to spare the process start-up;
        # per-instance fetchers show the same way: robots.txt twice, rates added up)
        stats = pairs.run(["--input", str(lst), "--output", str(tmp_path / "out"), "--runner", "FnApiRunner",
                           "--direct_running_mode", "multi_threading", "--direct_num_workers", "2",
                           "--image.allow_private_networks", "true", "--image.per_host_rate", str(RATE),
                           "--image.per_host_concurrency", "1", "--image.retries", "0"])
    finally:
        server.shutdown()
        server.server_close()
    starts = sorted(server.starts)
    assert len(starts) == N + 1  # every image once, and robots.txt once for the host
    assert stats["counters"]["images"]["ok"] == N
    assert server.peak == 1
    # the N image requests span at least (N - 1) / rate: two workers each with their own allowance
    # would take half that. (A whole-span bound, not each gap: a loaded machine may run one handler
    # late and the next on time, which shortens one gap as the server sees it, never the span.)
    span = starts[-1] - starts[0]
    assert span >= 0.95 * (N - 1) / RATE, span
