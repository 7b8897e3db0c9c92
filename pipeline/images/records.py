"""What goes into the image fetcher and what comes out: one result per URL, always."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ImageRequest:
    url: str
    referer: str | None = None
    # page-level opt-outs found by extraction (e.g. {"noai"} from <meta name="robots">)
    page_opt_out: frozenset[str] = frozenset()
    # the crawl's own copy of the image, if it holds one (used instead of any request), and
    # the X-Robots-Tag values of its record, honoured as a download's headers would be
    crawl_data: bytes | None = field(default=None, repr=False)
    crawl_robots: tuple[str, ...] = ()


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
