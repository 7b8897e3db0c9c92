"""Boilerplate-heavy pages (a web portal whose home page is almost all navigation, and its
cookie-settings page) and an artist's site that opts out of AI training twice: by a robots
meta tag on one page and by an ``X-Robots-Tag`` HTTP header on another; one of her images also
carries ``X-Robots-Tag: noimageai`` on its own response.
"""

from __future__ import annotations

from pipeline.samplecrawl import chrome as c
from pipeline.samplecrawl.model import Asset, Draft, ImageSpec, Page
from pipeline.samplecrawl.sites import ART, PORTAL, http_only, photo

SECTIONS = ("News", "Sport", "Money", "Weather", "Travel", "Motoring", "Property", "Jobs",
            "Dating", "Games", "Horoscopes", "TV", "Puzzles", "Deals", "Lottery")


def _mega_menu() -> str:
    cols = []
    for s in SECTIONS:
        links = "".join(f'<li><a href="/{s.lower()}/{k}">{s} {k.title()}</a></li>'
                        for k in ("latest", "popular", "local", "video", "archive"))
        cols.append(f'<div class="col"><h4>{s}</h4><ul>{links}</ul></div>')
    return f'<div class="mega-menu">{"".join(cols)}</div>'


def _portal_home() -> Page:
    d = Draft(PORTAL, "/")
    tiles = "".join(f'<a class="tile" href="/{s.lower()}">{s}</a>' for s in SECTIONS)
    intranet = http_only("http://10.0.0.5/portal/banner-internal.jpg")
    main = (f'{c.ad_slot(d, leaderboard=True)}{_mega_menu()}<div class="tiles">{tiles}</div>'
            f'<p class="welcome">Welcome to CityNet. Log in to see your mail.</p>'
            f'{c.img(d, intranet, "Staff notice")}{c.ad_slot(d)}{c.newsletter_box()}'
            f"{_mega_menu()}")
    return c.page(d, "CityNet: mail, news, weather and more", main, layout="boilerplate")


def _privacy_settings() -> Page:
    d = Draft(PORTAL, "/privacy-settings")
    vendors = "".join(f'<li><label><input type="checkbox" checked> Vendor {i:03d} '
                      "(advertising, measurement)</label></li>" for i in range(1, 41))
    main = ("<h1>Privacy settings</h1><p>Choose which partners may use cookies.</p>"
            f'<ul class="vendors">{vendors}</ul><button>Save</button><button>Accept all</button>'
            f"{_mega_menu()}")
    return c.page(d, "Privacy settings", main, layout="boilerplate")


STUDIES = """
These studies were painted over one winter from the harbour wall, mostly in the first hour after sunrise, when the light comes low across the water and the boats are still moored. I worked quickly on small boards so that I could finish each one before the light changed.

The series is about repetition: the same cranes, the same mooring posts and the same strip of sky, seen in fog, in rain and on the rare clear mornings. Looked at together, they become a record of weather more than of place.

All images on this site are my own work. Please do not use them to train image generators.
"""


def _portfolio() -> Page:
    d = Draft(ART, "/portfolio/harbour-studies")
    art = [photo(f"{ART.origin}/images/harbour-study-{i}.jpg", "brick" if i == 1 else "grass",
                 box, 600, quality=88) for i, box in ((1, (0, 0, 1, 1)), (2, (0, 0, 0.8, 0.8)))]
    meta = '<meta name="robots" content="noai, noimageai">\n'
    main = ("<h1>Harbour studies</h1>" + c.paragraphs(STUDIES)
            + "".join(c.figure(d, a, f"Harbour study no. {i + 1}, oil on board.")
                      for i, a in enumerate(art)))
    return c.page(d, "Harbour studies", main, layout="portfolio", head_extra=meta,
                  tags=("noai",), banner=False)


ABOUT = """
I am a painter living by the sea. I studied illustration, worked for ten years in a design studio, and have painted full time since 2019. My work is held in private collections in several countries and I exhibit with two galleries on the coast.

I paint outdoors whenever I can, and I teach small plein-air workshops in spring and autumn. If you would like to commission a painting or join a workshop, please get in touch by email.
"""


def _about() -> Page:
    d = Draft(ART, "/about")
    portrait = Asset(f"{ART.origin}/images/studio-portrait.jpg", "content",
                     ImageSpec("photo", "chelsea", (0.0, 0.3, 0.6, 1.0), 400, quality=84),
                     x_robots_tag="noimageai")
    main = "<h1>About</h1>" + c.figure(d, portrait, "In the studio.") + c.paragraphs(ABOUT)
    return c.page(d, "About Maren Holt", main, layout="portfolio", x_robots_tag="noai",
                  tags=("noai",), banner=False)


def pages() -> list[Page]:
    return [_portal_home(), _privacy_settings(), _portfolio(), _about()]
