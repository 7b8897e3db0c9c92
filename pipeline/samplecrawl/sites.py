"""The made-up sites of the sample crawl and the assets they share across pages.

All hosts use the reserved ``.example`` TLD so that nothing real is referenced. Logos and the ad
network's rectangle are at least 150 px a side and of modest aspect, so size filters keep them;
only their repetition across many documents should catch them.
"""

from __future__ import annotations

from pipeline.samplecrawl.model import Asset, ImageSpec, Site

BLANK_GIF_URI = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


def _site(name: str, origin: str, color: tuple[int, int, int], nav: tuple[str, ...],
          logo_fmt: str = "PNG") -> Site:
    logo = Asset(f"{origin}/static/img/logo.{logo_fmt.lower()}", "logo",
                 ImageSpec("wordmark", width=320, height=160, text=name, color=color,
                           fmt=logo_fmt))
    favicon = Asset(f"{origin}/static/icons/favicon-16.png", "icon",
                    ImageSpec("initials", width=16, text=name[0], color=color, fmt="PNG"))
    accent = "#%02x%02x%02x" % color
    return Site(name, origin, logo, favicon, nav, accent)


GAZETTE = _site("Harbour Gazette", "https://www.harbourgazette.example", (29, 53, 87),
                ("Home", "Local", "Business", "Science", "Sport", "Opinion", "Weather"))
COASTAL = _site("Coastal Wire", "https://coastalwire.example", (0, 95, 115),
                ("Top stories", "Region", "Science", "Video"), logo_fmt="WEBP")
KITCHEN = _site("Quiet Kitchen", "https://quietkitchen.example", (120, 72, 40),
                ("Recipes", "Drinks", "Desserts", "About", "Shop"))
FERN = _site("Fern & Feather", "https://fernandfeather.example", (52, 92, 60),
             ("Blog", "Gallery", "Notes", "About me"))
LANTERN = _site("Lanternworks", "https://shop.lanternworks.example", (90, 40, 110),
                ("New in", "Home & living", "Prints", "Gifts", "Sale"))
TINKER = _site("Tinkerbench", "https://forum.tinkerbench.example", (60, 60, 60),
               ("Forums", "What's new", "Members", "Help"))
STARS = _site("Stargazers Club", "https://stargazers.example.org", (10, 20, 60),
              ("Observing", "Events", "Equipment", "Join"))
SCIENCES = _site("Gazette des Sciences", "https://www.gazettedesciences.example", (150, 30, 40),
                 ("Accueil", "Espace", "Santé", "Environnement"))
WANDER = _site("Wanderblatt", "https://www.wanderblatt.example", (30, 110, 80),
               ("Start", "Reisen", "Kultur", "Essen"))
PORTAL = _site("CityNet Portal", "https://www.citynet-portal.example", (0, 70, 140),
               ("Mail", "News", "Weather", "Horoscope", "Games", "Shopping", "Dating", "Jobs",
                "Cars", "Property", "Travel", "TV guide", "Lottery", "Login"))
ART = _site("Maren Holt", "https://marenholt-art.example", (20, 20, 20),
            ("Portfolio", "Prints", "About"))

ALL_SITES = (GAZETTE, COASTAL, KITCHEN, FERN, LANTERN, TINKER, STARS, SCIENCES, WANDER, PORTAL,
             ART)

# An ad network whose medium rectangle appears on most pages: big enough and square enough to
# pass size and aspect filters, so only a repeated-image rule can drop it.
AD_RECT = Asset("https://ads.bannerfield.example/creative/summer-sale-336x280.jpg", "ad",
                ImageSpec("photo", "colorwheel", (0.1, 0.1, 0.9, 0.77), 336, 280, quality=85))
# a leaderboard: wide enough (aspect > 3) that the aspect rule refuses it
LEADERBOARD = Asset("https://ads.bannerfield.example/creative/leaderboard-728x90.jpg", "ad",
                    ImageSpec("photo", "grass", (0.0, 0.4, 1.0, 0.52), 728, 90, quality=70))


def pixel(site: Site, page_path: str) -> Asset:
    """The analytics beacon: a 1x1 transparent GIF whose URL carries the page (same bytes)."""
    host = site.origin.split("//")[1]
    return Asset(f"https://px.trackhub.example/collect.gif?site={host}&p={page_path}", "pixel",
                 ImageSpec("pixel", width=1, fmt="GIF"))


def share_icon(site: Site, name: str = "share") -> Asset:
    return Asset(f"{site.origin}/static/icons/{name}.svg", "svg",
                 ImageSpec("svg", fmt="SVG", text=name.capitalize()))


def photo(url: str, source: str, box: tuple[float, float, float, float] = (0, 0, 1, 1),
          width: int = 640, fmt: str = "JPEG", quality: int = 80, role: str = "content",
          height: int | None = None) -> Asset:
    """A content image cut from one of the shipped photos."""
    return Asset(url, role, ImageSpec("photo", source, box, width, height, fmt, quality))


def http_only(url: str, role: str = "content") -> Asset:
    """An image URL the WARC does not hold: only an HTTP fetch could get it."""
    return Asset(url, role, None)
