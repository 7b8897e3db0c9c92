"""The sample crawl's vocabulary: sites, image assets, and pages as the page modules describe them.

Page modules build HTML through a ``Draft`` so that every image a page references is recorded as
an ``Asset`` next to the HTML; the builder then knows, without parsing its own output, which image
URLs to store in the WARC, which only HTTP could fetch, and what role each plays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

# What an image is for on the page; the summary groups URLs by role so that tests of the corpus
# job can check that icons, pixels and avatars are refused and content photos are kept.
ROLES = ("content", "thumbnail", "logo", "ad", "icon", "pixel", "avatar", "placeholder", "svg")


@dataclass(frozen=True)
class ImageSpec:
    """How to make one image's bytes: a crop of a scikit-image photo, or a small drawing.

    ``box`` is a crop in fractions of the source (left, top, right, bottom). ``height`` forces an
    exact size (avatars, icons); otherwise the crop keeps its aspect at ``width``.
    """

    kind: str  # "photo" | "wordmark" | "initials" | "pixel" | "svg"
    source: str = ""
    box: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    width: int = 600
    height: int | None = None
    fmt: str = "JPEG"  # JPEG | PNG | WEBP | GIF | SVG
    quality: int = 80
    text: str = ""
    color: tuple[int, int, int] = (40, 60, 90)


@dataclass(frozen=True)
class Asset:
    """One image URL a page references. ``spec`` None means the WARC does not hold it."""

    url: str
    role: str
    spec: ImageSpec | None = None
    x_robots_tag: str = ""  # e.g. "noimageai" on the image's own HTTP response

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}")


@dataclass(frozen=True)
class Site:
    name: str
    origin: str  # "https://www.harbourgazette.example"
    logo: Asset
    favicon: Asset
    nav: tuple[str, ...] = ("Home", "News", "About", "Contact")
    accent: str = "#1d3557"


@dataclass
class Page:
    """One HTML page of the crawl and the facts tests may want about it."""

    url: str
    html: str
    layout: str  # news | blog | gallery | recipe | product | forum | listing | boilerplate | ...
    assets: list[Asset]
    lang: str = "en"
    charset: str = "utf-8"
    x_robots_tag: str = ""
    tags: tuple[str, ...] = ()  # extra facts: "noai", "syndicated", "url_variant", ...
    duplicate_of: str = ""  # URL of the page this one (nearly) duplicates; the tag says how


@dataclass
class Draft:
    """A page under construction: collects the assets that its HTML helpers reference."""

    site: Site
    path: str
    assets: list[Asset] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.site.origin + self.path

    def use(self, asset: Asset) -> str:
        """Record ``asset`` and return the URL to write in the HTML (relative on the same host)."""
        self.assets.append(asset)
        same = urlsplit(asset.url)[:2] == urlsplit(self.site.origin)[:2]
        return urlsplit(asset.url).path if same else asset.url
