"""Reading crawl files: WARC / WARC.gz (Common Crawl's per-record gzip) and plain HTML.

Pure Python over warcio (no Beam). One call per file yields :class:`PageRecord` for
HTML-able responses, :class:`ImageRecord` for image responses, and :class:`Skip`
for everything dropped, each with a snake_case reason, so the job can count every
record. Bodies are capped while reading; a corrupt or truncated file ends with a
``Skip`` for the rest of that file instead of an exception.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Union

HTML_TYPES = ("text/html", "application/xhtml+xml")
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
MAX_HTML_BYTES = 10 << 20
MAX_IMAGE_BYTES = 20 << 20


@dataclass
class PageRecord:
    url: str
    body: bytes
    charset: str | None = None  # from the HTTP Content-Type header, if any
    source: str = ""  # file it came from
    robots: tuple[str, ...] = ()  # X-Robots-Tag header values (opt-outs such as noai)


@dataclass
class ImageRecord:
    url: str
    body: bytes
    content_type: str = ""
    robots: tuple[str, ...] = ()  # X-Robots-Tag header values (noai, noimageai)


@dataclass
class Skip:
    reason: str
    url: str = ""
    detail: str = ""


Record = Union[PageRecord, ImageRecord, Skip]


def _media_type(content_type: str) -> tuple[str, str | None]:
    """``text/html; charset=UTF-8`` -> (``text/html``, ``utf-8``)."""
    parts = [p.strip() for p in (content_type or "").split(";")]
    charset = None
    for p in parts[1:]:
        k, _, v = p.partition("=")
        if k.strip().lower() == "charset" and v.strip():
            charset = v.strip().strip("'\"").lower()
    return parts[0].lower(), charset


def _read_capped(stream: IO[bytes], cap: int) -> bytes | None:
    data = stream.read(cap + 1)
    return None if len(data) > cap else data


def classify(url: str, status: int | None, content_type: str, body_stream: IO[bytes], source: str,
             robots: tuple[str, ...] = ()) -> Record:
    """One crawl response -> a page, an image or a skip with its reason."""
    media, charset = _media_type(content_type)
    if status is not None and status != 200:
        return Skip(f"http_status_{status // 100}xx", url)
    if media in HTML_TYPES or (not media and url.endswith((".html", ".htm"))):
        body = _read_capped(body_stream, MAX_HTML_BYTES)
        if body is None:
            return Skip("page_too_large", url)
        return PageRecord(url, body, charset, source, robots)
    if media in IMAGE_TYPES:
        body = _read_capped(body_stream, MAX_IMAGE_BYTES)
        if body is None:
            return Skip("image_record_too_large", url)
        return ImageRecord(url, body, media, robots)
    return Skip("not_html", url, media)


def iter_warc(fileobj: IO[bytes], source: str = "", stop_at: int | None = None) -> Iterator[Record]:
    """Records of one WARC stream (gzip per record or plain). Never raises on bad data.

    With ``stop_at``, records that start at or after that many bytes into the stream are
    left for the next split (see :func:`iter_warc_range`).
    """
    from warcio.archiveiterator import ArchiveIterator

    url = ""
    counted = _CountingReader(fileobj)
    try:
        it = ArchiveIterator(counted, arc2warc=True)
        for rec in it:
            if stop_at is not None and it.offset >= stop_at:
                return
            rtype = rec.rec_type
            if rtype not in ("response", "resource"):
                if rtype == "revisit":
                    yield Skip("revisit", rec.rec_headers.get_header("WARC-Target-URI") or "")
                continue  # warcinfo, request, metadata: not pages
            url = rec.rec_headers.get_header("WARC-Target-URI") or ""
            try:  # one bad record (odd status line, broken content encoding) is one skip
                yield _record(rec, rtype, url, source)
            except Exception as e:  # noqa: BLE001 -- warcio/zlib raise many types
                yield Skip("corrupt_record", url, f"{source}: {type(e).__name__}: {e}")
        # warcio ends quietly at a record cut short (EOF inside it); bytes left over after
        # the last complete record mean exactly that, so say so.
        while counted.read(1 << 20):
            pass
        if counted.total - it.offset > 8:
            yield Skip("truncated_record", url, f"{source}: {counted.total - it.offset} bytes after the last complete record")
    except Exception as e:  # warcio raises many types on corrupt input; keep the job going
        yield Skip("corrupt_warc", url, f"{source}: {type(e).__name__}: {e}")


# ------------------------------------------------------------------ splitting big files
# A Common Crawl WARC.gz is a series of gzip members, one per record, so a reader can start
# at any member boundary. Splitting each file into byte ranges lets one huge WARC spread
# over every worker without moving page bytes through a shuffle: each split reads the
# records that *start* inside it (the last may run past its end).

SPLIT_BYTES = 64 << 20
_GZIP_MAGIC = b"\x1f\x8b\x08"
_PLAIN_MAGIC = b"WARC/1."


def plan_splits(head: bytes, size: int, split_bytes: int = SPLIT_BYTES) -> list[tuple[int, int]]:
    """Byte ranges for a file whose first bytes are ``head`` (≥ 1 MB or the whole file).

    Only per-record gzip (or plain) WARCs split; a file gzipped as one stream, or whose first
    record cannot be seen to end inside ``head``, is read whole.
    """
    if size <= split_bytes:
        return [(0, size)]
    if head.startswith(b"\x1f\x8b"):
        d = zlib.decompressobj(31)
        try:
            first = d.decompress(head)
        except zlib.error:
            return [(0, size)]
        if not (first.startswith(b"WARC/") and d.eof and d.unused_data.startswith(b"\x1f\x8b")):
            return [(0, size)]  # ARC, or one gzip stream for many records: not splittable
    elif not head.startswith(_PLAIN_MAGIC):
        return [(0, size)]
    return [(s, min(s + split_bytes, size)) for s in range(0, size, split_bytes)]


def find_record_start(f: IO[bytes], start: int, window: int = 1 << 20) -> int | None:
    """The offset of the first record boundary at or after ``start`` (None at EOF)."""
    pos = start
    f.seek(pos)
    carry = b""
    while True:
        chunk = f.read(window)
        if not chunk:
            return None
        data = carry + chunk
        base = pos - len(carry)
        for magic, check in ((_GZIP_MAGIC, _is_gzip_record), (b"\n" + _PLAIN_MAGIC, None)):
            i = data.find(magic)
            while i != -1:
                if check is None:
                    return base + i + 1
                if check(data[i:]):
                    return base + i
                i = data.find(magic, i + 1)
        carry = data[-64:]
        pos += len(chunk)


def _is_gzip_record(data: bytes) -> bool:
    try:
        return zlib.decompressobj(31).decompress(data[:65536], 16).startswith(b"WARC/")
    except zlib.error:
        return False


def iter_warc_range(f: IO[bytes], start: int, end: int, source: str = "") -> Iterator[Record]:
    """Records that start in ``[start, end)`` of a seekable WARC file."""
    begin = 0 if start == 0 else find_record_start(f, start)
    if begin is None or begin >= end:
        return
    f.seek(begin)
    yield from iter_warc(f, source, stop_at=end - begin)


def _record(rec, rtype: str, url: str, source: str) -> Record:
    robots: tuple[str, ...] = ()
    if rtype == "response" and rec.http_headers is not None:
        code = (rec.http_headers.get_statuscode() or "0").strip()
        if not code.isdigit():
            return Skip("bad_http_status", url, f"{source}: status {code[:20]!r}")
        status, ctype = int(code), rec.http_headers.get_header("Content-Type") or ""
        robots = tuple(v for k, v in rec.http_headers.headers if k.lower() == "x-robots-tag")
    else:
        status, ctype = None, rec.rec_headers.get_header("Content-Type") or ""
    out = classify(url, status, ctype, rec.content_stream(), source, robots)
    if not isinstance(out, Skip) and _short_body(rec, out.body):
        out = Skip("truncated_record", url, f"{source}: body shorter than its Content-Length")
    return out


def _short_body(rec, body: bytes) -> bool:
    """A record cut short reads as a short body; HTTP Content-Length tells (when no
    transfer or content encoding changes the length)."""
    headers = rec.http_headers
    if headers is None or headers.get_header("Transfer-Encoding") or headers.get_header("Content-Encoding"):
        return False
    declared = headers.get_header("Content-Length")
    return bool(declared and declared.isdigit() and len(body) < int(declared))


class _CountingReader:
    """Counts the bytes read from a stream (to detect a truncated last record)."""

    def __init__(self, f):
        self.f, self.total = f, 0

    def read(self, n=-1):
        data = self.f.read(n)
        self.total += len(data)
        return data

    def readline(self, n=-1):
        data = self.f.readline(n)
        self.total += len(data)
        return data


def read_html_file(path: str, data: bytes, sidecar_url: str | None = None) -> Record:
    """A plain ``.html``/``.html.gz`` file (``data``: its first bytes, at least
    ``MAX_HTML_BYTES + 1`` of them if there are that many). The URL is the sidecar's
    (``PATH.url``, read by the caller) when given, else the path. A gzipped page is capped
    while it is decompressed, like a WARC record's body: a 1.5 MB file that inflates to
    1.5 GB stops at ``MAX_HTML_BYTES``."""
    url = sidecar_url or ("file://" + os.path.abspath(path) if "://" not in path else path)
    if path.endswith(".gz"):
        try:
            data = gunzip_capped(data, MAX_HTML_BYTES)
        except (OSError, EOFError, zlib.error) as e:
            return Skip("corrupt_gzip", url, str(e))
    if data is None or len(data) > MAX_HTML_BYTES:
        return Skip("page_too_large", url)
    return PageRecord(url, data, None, path)


def gunzip_capped(data: bytes, cap: int) -> bytes | None:
    """Decompress gzip ``data`` (several members allowed); None once it passes ``cap`` bytes."""
    out, rest = bytearray(), data
    while rest:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += d.decompress(rest, cap + 1 - len(out))
        if len(out) > cap:
            return None
        if not d.eof:
            if d.unconsumed_tail:  # stopped by the cap, not by the end of the data
                return None
            raise EOFError("gzip stream ends before its end marker")
        rest = d.unused_data.lstrip(b"\x00")
    return bytes(out)


def sidecar_url(text: str) -> str | None:
    """The URL in a ``PAGE.html.url`` sidecar's first line."""
    return text.splitlines()[0].strip() if text.strip() else None


def is_warc(path: str) -> bool:
    return path.endswith((".warc", ".warc.gz", ".arc", ".arc.gz"))


def is_html(path: str) -> bool:
    return path.endswith((".html", ".htm", ".html.gz", ".htm.gz"))
