"""Deterministic WARC records in the shape Common Crawl writes them: one gzip member per record,
a ``request`` before each ``response``, fixed dates, and record ids derived from the URL.

warcio stamps the current time and a random uuid on records unless told otherwise; here both are
always given, so the same inputs give byte-identical output (zlib's gzip header has mtime 0).
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import BinaryIO
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

USER_AGENT = "FlamingoKitSampleCrawler/0.1 (+https://flamingo-kit.example/bot)"
REASONS = {200: "OK", 301: "Moved Permanently", 404: "Not Found"}


def record_id(kind: str, url: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, kind + ' ' + url)}>"


class CrawlWriter:
    """Writes request/response pairs with a clock that advances a few seconds per fetch."""

    def __init__(self, out: BinaryIO, start: datetime, filename: str) -> None:
        self._out = out
        self._writer = WARCWriter(out, gzip=True)
        self._clock = start
        self._info_id = record_id("warcinfo", filename)
        self.counts: dict[str, int] = {}

    def _tick(self) -> datetime:
        self._clock += timedelta(seconds=3)
        return self._clock

    def _warc_headers(self, kind: str, url: str, when: datetime) -> dict[str, str]:
        return {"WARC-Record-ID": record_id(kind, url),
                "WARC-Date": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "WARC-Warcinfo-ID": self._info_id}

    def _write(self, record) -> None:
        self._writer.write_record(record)
        self.counts[record.rec_type] = self.counts.get(record.rec_type, 0) + 1

    def warcinfo(self, filename: str, fields: dict[str, str]) -> None:
        body = "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode()
        headers = {"WARC-Record-ID": self._info_id, "WARC-Filename": filename,
                   "WARC-Date": self._clock.strftime("%Y-%m-%dT%H:%M:%SZ")}
        self._write(self._writer.create_warc_record(
            "", "warcinfo", payload=io.BytesIO(body), length=len(body),
            warc_content_type="application/warc-fields", warc_headers_dict=headers))

    def fetch(self, url: str, body: bytes, content_type: str, status: int = 200,
              extra: list[tuple[str, str]] | None = None) -> None:
        """A request record and the response it got."""
        for record in self._pair(url, body, content_type, status, extra or []):
            self._write(record)

    def _pair(self, url: str, body: bytes, content_type: str, status: int,
              extra: list[tuple[str, str]]) -> tuple:
        when = self._tick()
        parts = urlsplit(url)
        target = parts.path + ("?" + parts.query if parts.query else "")
        req = StatusAndHeaders(f"GET {target or '/'} HTTP/1.1", [
            ("Host", parts.netloc), ("User-Agent", USER_AGENT),
            ("Accept", "text/html,application/xhtml+xml,image/avif,image/webp,*/*;q=0.8"),
            ("Accept-Language", "en-GB,en;q=0.7,fr;q=0.5,de;q=0.4"),
            ("Accept-Encoding", "identity"), ("Connection", "close")], is_http_request=True)
        resp_headers = [("Date", format_datetime(when, usegmt=True)), ("Server", "nginx/1.24.0"),
                        ("Content-Type", content_type), ("Content-Length", str(len(body))),
                        ("Cache-Control", "max-age=300"), *extra]
        resp = StatusAndHeaders(f"{status} {REASONS[status]}", resp_headers, protocol="HTTP/1.1")
        w = self._writer
        response = w.create_warc_record(url, "response", payload=io.BytesIO(body),
                                        http_headers=resp,
                                        warc_headers_dict=self._warc_headers("response", url, when))
        request = w.create_warc_record(url, "request", http_headers=req,
                                       warc_headers_dict=self._warc_headers("request", url, when))
        request.rec_headers.add_header("WARC-Concurrent-To",
                                       response.rec_headers.get_header("WARC-Record-ID"))
        return request, response

    def truncated_fetch(self, url: str, body: bytes, content_type: str,
                        keep: float = 0.6) -> None:
        """A fetch whose response record is cut short, as when a crawler dies mid-write: the
        request is whole, the response's gzip member stops at ``keep`` of its bytes."""
        request, response = self._pair(url, body, content_type, 200, [])
        self._write(request)
        buf = io.BytesIO()
        WARCWriter(buf, gzip=True).write_record(response)
        self._out.write(buf.getvalue()[: int(len(buf.getvalue()) * keep)])
        self.counts["truncated_response"] = 1
