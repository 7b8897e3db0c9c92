"""A hostile loopback image server and real-photo fixtures for the image tests.

Photos come from scikit-image's bundled sample data (no download). Every
route of the images issue is here; the server logs every request path so a
test can assert which requests were (or were never) made.
"""

from __future__ import annotations

import functools
import gzip
import io
import struct
import threading
import time
import zlib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field")


@functools.lru_cache(maxsize=64)
def photo(
    name: str = "astronaut",
    size: tuple[int, int] = (320, 240),
    fmt: str = "JPEG",
    quality: int = 85,
) -> bytes:
    from skimage import data

    image = Image.fromarray(np.asarray(getattr(data, name)())).convert("RGB").resize(size)
    out = io.BytesIO()
    image.save(out, format=fmt, **({"quality": quality} if fmt in ("JPEG", "WEBP") else {}))
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR that claim ``width`` x ``height``, with a tiny IDAT."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@functools.lru_cache(maxsize=1)
def many_frame_gif(frames: int = 1000, side: int = 160) -> bytes:
    images = [Image.new("P", (side, side), i % 256) for i in range(frames)]
    for i, im in enumerate(images):
        im.putpalette([(i * 7 + c * 50) % 256 for _ in range(256) for c in range(3)])
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=10)
    return out.getvalue()


@functools.lru_cache(maxsize=1)
def gzip_bomb(decoded_mb: int = 64) -> bytes:
    """A real JPEG start, so magic-byte checks pass, then megabytes of zeros."""
    return gzip.compress(photo() + b"\0" * (decoded_mb * 1024 * 1024), compresslevel=9)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real image hosts
    server: ImageServer

    def log_message(self, *args: object) -> None:  # quiet: the server keeps its own log
        pass

    def do_GET(self) -> None:
        self.server.record(self.path, dict(self.headers))
        route = self.path.split("?")[0]
        hits = self.server.hits[self.path]
        handler = ROUTES.get(route) or (Handler.photo_route if route.startswith("/img/") else None)
        if handler is None:
            return self.send(404, b"not found", "text/plain")
        handler(self, hits)

    def send(
        self, code: int, body: bytes, ctype: str = "image/jpeg", headers: dict | None = None
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def photo_route(self, hits: int) -> None:
        # /img/<photo>-<w>x<h>.<jpg|png|webp>
        stem, ext = self.path.split("?")[0][5:].rsplit(".", 1)
        name, _, dims = stem.rpartition("-")
        width, height = (int(v) for v in dims.split("x"))
        fmt = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}[ext]
        self.send(200, photo(name, (width, height), fmt), f"image/{fmt.lower()}")

    def redirect(self, location: str) -> None:
        self.send(302, b"", "text/plain", {"Location": location})

    def stream(self, headers: dict, chunks, delay: float = 0.0) -> None:
        self.send_response(200)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Connection", "close")
        self.end_headers()
        try:
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
                time.sleep(delay)
        except OSError:
            pass  # the client hung up, as it should
        self.close_connection = True


def _redirect_to(location: str):
    return lambda h, hits: h.redirect(location.format(internal=h.server.internal_port))


def _drip(h: Handler, hits: int) -> None:
    h.stream(
        {"Content-Type": "image/jpeg", "Content-Length": "100000"},
        (photo()[i : i + 1] for i in range(100000)),
        0.4,
    )


def _drip_headers(h: Handler, hits: int) -> None:  # a status line, then headers at 2.5 bytes/s
    h.wfile.write(b"HTTP/1.1 200 OK\r\n")
    try:
        for byte in b"X-Slow: " + b"a" * 1000:
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            time.sleep(0.4)
    except OSError:
        pass
    h.close_connection = True


def _infinite(h: Handler, hits: int) -> None:
    h.stream(
        {"Content-Type": "image/jpeg"},
        (photo() if i == 0 else b"\0" * 65536 for i in range(100000)),
    )


def _lie_long(h: Handler, hits: int) -> None:  # claims more than it sends, then hangs up
    h.stream({"Content-Type": "image/jpeg", "Content-Length": str(len(photo()) * 3)}, [photo()])


def _lie_short(h: Handler, hits: int) -> None:  # claims less than it sends
    h.stream({"Content-Type": "image/jpeg", "Content-Length": "600"}, [photo()])


def _rate_limited(h: Handler, hits: int) -> None:
    if hits == 1:
        return h.send(429, b"slow down", "text/plain", {"Retry-After": "1"})
    h.send(200, photo())


def _flaky(h: Handler, hits: int) -> None:
    if hits <= 2:
        return h.send(503 if hits == 1 else 500, b"oops", "text/plain")
    h.send(200, photo())


ROUTES = {
    "/robots.txt": lambda h, hits: h.send(
        200, b"User-agent: *\nDisallow: /private/\n", "text/plain"
    ),
    "/private/photo.jpg": lambda h, hits: h.send(200, photo()),
    "/redirect/loopback": _redirect_to("http://127.0.0.1:{internal}/img/astronaut-320x240.jpg"),
    "/redirect/internal-name": _redirect_to(
        "http://internal.test:{internal}/img/astronaut-320x240.jpg"
    ),
    "/redirect/metadata": _redirect_to("http://169.254.169.254/latest/meta-data/"),
    "/redirect/file": _redirect_to("file:///etc/passwd"),
    "/redirect/ok": _redirect_to("/img/coffee-300x200.jpg"),
    "/redirect/loop": _redirect_to("/redirect/loop"),
    "/drip": _drip,
    "/drip-headers": _drip_headers,
    "/infinite": _infinite,
    "/lie/long": _lie_long,
    "/lie/short": _lie_short,
    "/bomb/gzip": lambda h, hits: h.send(
        200, gzip_bomb(), "image/jpeg", {"Content-Encoding": "gzip"}
    ),
    "/bomb/gzip-chain": lambda h, hits: h.send(
        200,
        gzip.compress(gzip.compress(gzip.compress(photo()))),
        "image/jpeg",
        {"Content-Encoding": "gzip, gzip, gzip"},
    ),
    "/huge.png": lambda h, hits: h.send(200, png_claiming(50000, 50000), "image/png"),
    "/frames.gif": lambda h, hits: h.send(200, many_frame_gif(), "image/gif"),
    "/truncated.jpg": lambda h, hits: h.send(200, photo()[: len(photo()) // 2]),
    "/image.svg": lambda h, hits: h.send(
        200, b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"
    ),
    "/page.html": lambda h, hits: h.send(200, b"<html><body>hi</body></html>", "text/html"),
    "/disguised.jpg": lambda h, hits: h.send(
        200, b"<html><body>not a jpeg</body></html>", "image/jpeg"
    ),
    "/noai.jpg": lambda h, hits: h.send(200, photo(), "image/jpeg", {"X-Robots-Tag": "noai"}),
    "/noai-other-bot.jpg": lambda h, hits: h.send(
        200, photo(), "image/jpeg", {"X-Robots-Tag": "otherbot: noai"}
    ),
    "/429": _rate_limited,
    "/flaky": _flaky,
    "/small.jpg": lambda h, hits: h.send(200, photo(size=(120, 90))),
    "/wide.jpg": lambda h, hits: h.send(200, photo(size=(800, 160))),
}


class ImageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, internal_port: int = 0) -> None:
        super().__init__((host, 0), Handler)
        self.internal_port = internal_port
        self.log: list[str] = []
        self.user_agents: list[str] = []
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()

    def handle_error(self, request, client_address) -> None:
        pass  # clients hanging up on hostile routes is the expected outcome, not noise to print

    def record(self, path: str, headers: dict) -> None:
        with self._lock:
            self.log.append(path)
            self.user_agents.append(headers.get("User-Agent", ""))
            self.hits[path] += 1

    def url(self, path: str) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{path}"

    def start(self) -> ImageServer:
        # Build the costly bodies before serving: built on the first request, under load, they
        # took longer than the clients' deadline and the test measured the server, not the client.
        many_frame_gif(), gzip_bomb()
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
