"""What goes into the image fetcher and what comes out: one result per URL, always."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageRequest:
    url: str
    referer: str | None = None
    # page-level opt-outs found by extraction (e.g. {"noai"} from <meta name="robots">)
    page_opt_out: frozenset[str] = frozenset()


@dataclass
class ImageResult:
    url: str
    status: str  # "ok" or a snake_case reason
    source: str = ""  # "crawl" or "http"; "" when refused before any source was used
    data: bytes | None = None  # re-encoded JPEG when ok
    ext: str = "jpg"
    width: int = 0
    height: int = 0
    original_width: int = 0
    original_height: int = 0
    sha256: str = ""
    phash: str = ""  # 64-bit perceptual hash, 16 hex digits
    error: str = ""  # human-readable detail

    @property
    def ok(self) -> bool:
        return self.status == "ok"
