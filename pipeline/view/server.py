"""The viewer's web server: the standard library's threading HTTP server over :class:`App`.

:class:`App` maps a request path to a response (status, type, body) and knows nothing of
sockets, so tests call it directly; :func:`serve` puts it behind ``ThreadingHTTPServer``.

Defences behind the escaping of every page string (:mod:`pipeline.view.markup`):

* binds to 127.0.0.1 unless told otherwise, and on loopback answers only requests whose
  ``Host`` is the loopback address it serves (a web page elsewhere cannot reach it through
  DNS rebinding);
* every page carries a Content-Security-Policy that allows no script at all, styles and
  images from this server only (and ``data:`` images), no other connection, no framing;
* images are served only from the shards, only as the content type their bytes prove
  (JPEG, PNG, WebP), with ``nosniff``; anything else is refused;
* GET and HEAD only; nothing on a page points off the machine (source URLs are text).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from pipeline.shards import format as sf
from pipeline.view import media, pages
from pipeline.view.catalog import Catalog
from pipeline.view.markup import CONTROL
from pipeline.view.model import build

log = logging.getLogger(__name__)

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")
THUMB_PX = 128
THUMB_CACHE = 4096


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class BadRequest(ValueError):
    pass


class App:
    """Requests -> responses over one :class:`Catalog`."""

    def __init__(self, catalog: Catalog, *, max_tokens: int | None = sf.MAX_TOKENS,
                 max_images: int | None = sf.MAX_IMAGES, per_page: int = pages.PER_PAGE):
        self.catalog, self.max_tokens, self.max_images, self.per_page = catalog, max_tokens, max_images, per_page
        self._thumbs: OrderedDict[tuple[int, str], bytes | None] = OrderedDict()
        self._lock = threading.Lock()
        self.css = pages.stylesheet().encode()

    def handle(self, target: str) -> Response:
        parts = urlsplit(target)
        q = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        route = {"/": self.home, "/shard": self.shard, "/search": self.search, "/sample": self.sample,
                 "/media": self.media, "/thumb": self.thumb, "/static/view.css": self.style,
                 "/favicon.ico": lambda q: Response(204, "text/plain", b"")}.get(parts.path)
        if route is None:
            return self._page(404, pages.message_page("Not found", f"nothing at {parts.path}"))
        try:
            return route(q)
        except BadRequest as e:
            return self._page(400, pages.message_page("Bad request", str(e)))
        except KeyError as e:
            return self._page(404, pages.message_page("Not found", f"no sample {e}"))
        except (OSError, ValueError) as e:
            log.debug("error on %s", target, exc_info=True)
            return self._page(500, pages.message_page("Cannot read this", f"{type(e).__name__}: {e}"))

    # ------------------------------------------------------------------------------- routes

    def home(self, q) -> Response:
        return self._page(200, pages.home(self.catalog))

    def shard(self, q) -> Response:
        return self._page(200, pages.shard_page(self.catalog, self._shard(q), _int(q, "page", 0), self.per_page))

    def search(self, q) -> Response:
        shard = self._shard(q) if q.get("s", "") != "" else None
        start = q.get("start", "0.0")
        try:
            pos, row = (int(x) for x in start.split("."))
        except ValueError:
            raise BadRequest(f"bad start {start!r}") from None
        return self._page(200, pages.search_page(self.catalog, q.get("q", "")[:500], shard, (max(pos, 0), max(row, 0))))

    def sample(self, q) -> Response:
        i, key = self._shard(q), self._key(q)
        return self._page(200, pages.sample_page(self.catalog, i, self._view(i, key), self.per_page))

    def media(self, q) -> Response:
        i, key, member = self._shard(q), self._key(q), q.get("m", "")
        if member.rsplit(".", 1)[-1].lower() not in sf.IMAGE_EXTS:
            raise BadRequest("only image members are served")
        data = self.catalog.read(i, key).members.get(member)
        if data is None:
            raise KeyError(f"{key}.{member}")
        kind = media.sniff(data)
        if kind is None:
            return self._page(415, pages.message_page("Not an image", "these bytes are not a JPEG, PNG or WebP "
                                                      "image, so they are not served"))
        return Response(200, kind, data, {"Cache-Control": "private, max-age=600",
                                          "Content-Disposition": "inline"})

    def thumb(self, q) -> Response:
        i, key = self._shard(q), self._key(q)
        with self._lock:
            cached = self._thumbs.get((i, key), ...)
        if cached is ...:
            view = self._view(i, key)
            first = next((im for im in view.images if im.content_type), None)
            cached = media.thumbnail(view.members[first.member], THUMB_PX) if first else None
            with self._lock:
                self._thumbs[(i, key)] = cached
                while len(self._thumbs) > THUMB_CACHE:
                    self._thumbs.popitem(last=False)
        if cached is None:
            return Response(404, "text/plain; charset=utf-8", b"no image")
        return Response(200, "image/jpeg", cached, {"Cache-Control": "private, max-age=600"})

    def style(self, q) -> Response:
        return Response(200, "text/css; charset=utf-8", self.css, {"Cache-Control": "private, max-age=600"})

    # ------------------------------------------------------------------------------ helpers

    def _view(self, i: int, key: str):
        region = self.catalog.read(i, key)
        return build(key, region.members, region.problems, max_tokens=self.max_tokens, max_images=self.max_images)

    def _shard(self, q) -> int:
        i = _int(q, "s", None)
        if i is None or not 0 <= i < len(self.catalog.shards):
            raise BadRequest("no such shard")
        return i

    @staticmethod
    def _key(q) -> str:
        key = q.get("k", "")
        if not key or len(key) > 200:
            raise BadRequest("no sample key")
        return key

    @staticmethod
    def _page(status: int, html: str) -> Response:
        return Response(status, "text/html; charset=utf-8", html.encode("utf-8"), {"Cache-Control": "no-store"})


def _int(q: dict, name: str, default):
    value = q.get(name, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise BadRequest(f"{name} must be a number") from None


def allowed_hosts(host: str, port: int) -> set[str] | None:
    """Host headers a loopback server answers; None (any) when the user chose another address."""
    if host not in LOOPBACK:
        return None
    return {f"{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]")}


def handler_for(app: App, hosts: set[str] | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
        server_version = "flamingo-view"
        sys_version = ""

        def do_GET(self) -> None:
            self._answer(send_body=True)

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def _answer(self, send_body: bool) -> None:
            if hosts is not None and self.headers.get("Host", "") not in hosts:
                resp = Response(421, "text/plain; charset=utf-8", b"this viewer answers only on its loopback address")
            else:
                resp = app.handle(self.path)
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("X-Frame-Options", "DENY")
            self.send_header("Cross-Origin-Resource-Policy", "same-origin")
            for k, v in resp.headers.items():
                self.send_header(k, v)
            self.end_headers()
            if send_body:
                self.wfile.write(resp.body)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
            log.debug("%s %s", self.address_string(), CONTROL.sub("?", format % args))

    return Handler


def serve(app: App, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A started server (in a daemon thread); ``server.server_address`` has the real port."""
    cls = ThreadingHTTPServer
    if ":" in host:  # an IPv6 address
        import socket

        cls = type("ThreadingHTTPServer6", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
    server = cls((host.strip("[]"), port), BaseHTTPRequestHandler)
    server.RequestHandlerClass = handler_for(app, allowed_hosts(host, server.server_address[1]))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="flamingo-view", daemon=True).start()
    return server
