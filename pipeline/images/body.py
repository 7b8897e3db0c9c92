"""Reading a response body safely: capped decoding, magic bytes, header opt-outs.

Pure functions and a small decoder; no sockets here, so each rule is tested
on bytes alone.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

_ENCODINGS = {"gzip", "x-gzip", "deflate"}
_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
MAGIC_BYTES_NEEDED = 12


class BodyError(Exception):
    """The body must not be used; ``reason`` is the status."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def sniff_format(head: bytes) -> str | None:
    """The allowlisted image format the first bytes announce, or None."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def refusal_for_head(head: bytes, content_type: str) -> tuple[str, str] | None:
    """(reason, detail) when the first bytes are not an allowlisted image, else None."""
    if sniff_format(head) is not None:
        return None
    lowered = head.lstrip()[:64].lower()
    if "svg" in content_type or lowered.startswith((b"<svg", b"<?xml")):
        return "unsupported_format", "SVG is not decoded"
    return "not_an_image", f"magic bytes {head[:8]!r} ({content_type or 'no content type'})"


def refusal_for_content_type(content_type: str) -> tuple[str, str] | None:
    """Refuse types that are certainly not raster images; leave vague ones to the magic bytes."""
    ct = content_type.split(";")[0].strip().lower()
    if ct == "image/svg+xml":
        return "unsupported_format", ct
    if ct.startswith(("text/", "video/", "audio/")) or ct in (
        "application/json",
        "application/xml",
        "application/xhtml+xml",
        "application/javascript",
        "application/pdf",
    ):
        return "not_an_image", f"content type {ct}"
    return None


def opt_out_directive(values: Iterable[str], token: str, directives: frozenset[str]) -> str | None:
    """The X-Robots-Tag directive that forbids our use, if any.

    A value is either ``noai, noimageai`` (every agent) or ``agent: noai``
    (only that agent), as in img2dataset's ``is_disallowed``; we read it the
    same way but without importing img2dataset (2.5 s of cv2/albumentations).
    """
    for value in values:
        agent, sep, rest = value.partition(":")
        scoped = bool(sep) and " " not in agent.strip() and "," not in agent
        if scoped and agent.strip().lower() != token:
            continue
        for directive in (rest if scoped else value).split(","):
            if directive.strip().lower() in directives:
                return directive.strip().lower()
    return None


def header_opt_outs(values: Iterable[str], token: str) -> frozenset[str]:
    """Which of ``noai``/``noimageai`` a page's X-Robots-Tag values set for agent ``token``."""
    return frozenset(d for d in ("noai", "noimageai") if opt_out_directive(values, token, frozenset({d})))


class CappedDecoder:
    """Undo a Content-Encoding chain while never producing more than ``cap`` bytes."""

    def __init__(self, content_encoding: str, cap: int, max_chain: int) -> None:
        chain = [e.strip().lower() for e in content_encoding.split(",") if e.strip()]
        chain = [e for e in chain if e != "identity"]
        if len(chain) > max_chain:
            raise BodyError("bad_content_encoding", f"{len(chain)} content encodings")
        unknown = [e for e in chain if e not in _ENCODINGS]
        if unknown:
            raise BodyError("bad_content_encoding", f"unsupported encoding {unknown[0]}")
        # Decoded in reverse order of application; wbits 47 reads gzip and zlib headers.
        self._stages = [zlib.decompressobj(47) for _ in reversed(chain)]
        self.cap = cap
        self.size = 0

    def feed(self, data: bytes) -> bytes:
        for stage in self._stages:
            if not data:
                return b""
            data = self._inflate(stage, data)
        self.size += len(data)
        if self.size > self.cap:
            raise BodyError("too_large", f"body over {self.cap} bytes")
        return data

    def _inflate(self, stage: zlib._Decompress, data: bytes) -> bytes:
        try:
            out = stage.decompress(data, self.cap - self.size + 1)
        except zlib.error as err:
            raise BodyError("bad_content_encoding", f"corrupt compressed body: {err}") from err
        if stage.unconsumed_tail or len(out) > self.cap - self.size:
            raise BodyError("too_large", f"decoded body over {self.cap} bytes")
        return out
