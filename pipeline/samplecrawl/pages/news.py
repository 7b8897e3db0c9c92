"""News layout: the Harbour Gazette's articles with figures, ``srcset`` and ``picture`` images,
lazy images, ads, related links and comments; its front page (a listing); a syndicated copy on
Coastal Wire; a tracking-query variant of one URL; and a story whose record gets truncated.
"""

from __future__ import annotations

from pipeline.samplecrawl import chrome as c
from pipeline.samplecrawl.model import Asset, Draft, ImageSpec, Page
from pipeline.samplecrawl.pages import news_text as t
from pipeline.samplecrawl.sites import COASTAL, GAZETTE, http_only, photo

G = GAZETTE.origin
MEDIA = G + "/media/2024/05"
CDN = "https://cdn.harbourgazette.example/img/2024/05"

ROCKET_800 = photo(f"{MEDIA}/northwind-launch-800.jpg", "rocket", width=800)
ROCKET_480 = photo(f"{MEDIA}/northwind-launch-480.jpg", "rocket", width=480, quality=75)
ARTICLES = [
    # slug, headline, standfirst, body, author, date
    ("northwind-rocket-test-flight", "Coastal start-up's rocket clears the tower in first test "
     "flight", "Ninety seconds of flight that took four years to prepare", t.ROCKET,
     "Ellen Marr", "2024-05-14"),
    ("greek-coins-harbour-museum", "Ancient Greek coins go on show at the harbour museum",
     "A retired teacher's collection, checked coin by coin", t.COINS, "Joe Whitcombe",
     "2024-05-16"),
    ("pathology-backlog-cleared", "Hospital lab clears its backlog with a digital slide scanner",
     "Waiting times for biopsy results fall from six weeks to under one", t.LAB, "Ruth Adeyemi",
     "2024-05-20"),
    ("eye-screening-van", "Mobile eye-screening van to tour fourteen villages",
     "Free checks for people with diabetes who struggle to reach the hospital", t.EYES,
     "Ruth Adeyemi", "2024-05-22"),
    ("quayside-cafe-forty-years", "Quayside café marks forty years of serving the early shift",
     "Bacon rolls, strong coffee and the same opening time since 1984", t.CAFE, "Joe Whitcombe",
     "2024-05-27"),
    ("charity-motorcycle-ride", "Three hundred motorcyclists ride for the lifeboat station",
     "The largest charity ride the town has seen raised more than eleven thousand pounds",
     t.RIDE, "Ellen Marr", "2024-05-29"),
]
RELATED = [(f"/news/2024/05/{a[0]}", a[1]) for a in ARTICLES]
AVATAR_GULL = photo(G + "/static/avatars/u1882.jpg", "chelsea", (0.35, 0.05, 0.75, 0.6), 64,
                    height=64, role="avatar")


def _figures(d: Draft, slug: str) -> str:
    """Each article embeds its pictures in a different way, as real newsrooms' CMSs do."""
    if slug == "northwind-rocket-test-flight":
        big = http_only(f"{CDN}/northwind-launch-1600.jpg")
        return c.srcset_figure(d, ROCKET_800, [(ROCKET_480, 480), (ROCKET_800, 800), (big, 1600)],
                               "The Northwind demonstrator leaves the tower on Tuesday morning.",
                               "A white rocket rising from a launch tower")
    if slug == "greek-coins-harbour-museum":
        return (c.picture(d, photo(f"{MEDIA}/coins-display.webp", "coins", width=640, fmt="WEBP"),
                          photo(f"{MEDIA}/coins-display.jpg", "coins", width=640),
                          "Rows of ancient silver and bronze coins",
                          "Part of the Oduya collection, photographed before installation.")
                + c.figure(d, photo(f"{MEDIA}/coins-detail.jpg", "coins", (0.0, 0.0, 0.5, 0.5),
                                    420), "Detail: small bronze coins from the collection."))
    if slug == "pathology-backlog-cleared":
        return c.figure(d, photo(f"{MEDIA}/stained-tissue.jpg", "immunohistochemistry",
                                 width=600), "A stained tissue sample as it appears on screen: "
                        "brown marks the protein being tested for.", credit="Photo: District "
                        "Hospital")
    if slug == "eye-screening-van":
        return (c.figure(d, photo(f"{MEDIA}/retina-scan.jpg", "retina", (0.1, 0.1, 0.9, 0.9),
                                  560), "A photograph of a healthy retina, of the kind the van's "
                         "camera takes.")
                + c.figure(d, http_only(f"{CDN}/screening-van-exterior.jpg"),
                           "The converted lorry that will carry the screening unit."))
    if slug == "quayside-cafe-forty-years":
        blank = Asset(G + "/static/img/blank.gif", "placeholder",
                      ImageSpec("pixel", width=1, fmt="GIF"))
        return c.lazy_img(d, photo(f"{MEDIA}/quayside-cafe-coffee.jpg", "coffee", width=600),
                          "A cup of coffee on a saucer", "Coffee at the Quayside Café, where the "
                          "first cups are poured at five.", placeholder=blank)
    return (c.figure(d, photo(f"{MEDIA}/charity-ride.jpg", "motorcycle", width=640),
                     "One of the older machines on the ride, a restored road bike.")
            + c.lazy_img(d, photo(f"{MEDIA}/charity-ride-detail.jpg", "motorcycle",
                                  (0.2, 0.2, 0.8, 0.8), 420), "Close-up of a motorcycle engine"))


def _article(slug: str, path: str, tags: tuple[str, ...] = (), duplicate_of: str = "") -> Page:
    _, headline, stand, body, author, date = next(a for a in ARTICLES if a[0] == slug)
    d = Draft(GAZETTE, path)
    byline = (f'<p class="byline">By <a href="/authors/{author.lower().replace(" ", "-")}">'
              f'{author}</a> &middot; <time datetime="{date}">{date}</time></p>')
    main = (f'{c.ad_slot(d, leaderboard=True)}<article><h1>{headline}</h1><p class="standfirst">'
            f"{stand}</p>{byline}{c.share_buttons(d)}{_figures(d, slug)}"
            f'<div class="article-body">{c.paragraphs(body)}</div></article>'
            f"{c.newsletter_box()}" + c.comments(d, [
                ("gullwatcher", AVATAR_GULL, "Good to see a proper local story for once."),
                ("M. Penhale", None, "Does anyone know if this will be in the print edition?")]))
    sidebar = c.related([r for r in RELATED if slug not in r[0]][:4]) + c.ad_slot(d)
    return c.page(d, headline, main, layout="news", sidebar=sidebar, tags=tags,
                  duplicate_of=duplicate_of)


def _front_page() -> Page:
    d = Draft(GAZETTE, "/")
    items = []
    for i, (slug, headline, stand, *_rest) in enumerate(ARTICLES):
        thumb = photo(f"{G}/media/thumbs/{slug}-120.jpg",
                      ("rocket", "coins", "immunohistochemistry", "retina", "coffee",
                       "motorcycle")[i], width=120, quality=70, role="thumbnail")
        items.append(f'<li class="teaser"><a href="/news/2024/05/{slug}">'
                     f'{c.img(d, thumb, "", "thumb")}<h2>{headline}</h2></a><p>{stand}</p></li>')
    main = (f'{c.ad_slot(d, leaderboard=True)}<section class="top-stories"><h1>Top stories</h1>'
            f'<ul>{"".join(items)}</ul></section><section class="most-read"><h2>Most read</h2>'
            f'<ol>{"".join(f"<li><a href={u!r}>{h}</a></li>" for u, h in RELATED[::-1])}</ol>'
            f"</section>{c.newsletter_box()}")
    return c.page(d, "Local news from the harbour and the hills", main, layout="listing",
                  sidebar=c.ad_slot(d))


def _syndicated() -> Page:
    """The rocket story as a wire partner republished it: one sentence more, other chrome, the
    same photo bytes under the partner's own URL."""
    d = Draft(COASTAL, "/story/2024/05/14/rocket-clears-tower-first-test")
    _, headline, stand, body, author, date = ARTICLES[0]
    body = body.replace("as planned and the vehicle fell into a cordoned stretch of sea eleven "
                        "kilometres offshore.", "as planned and the vehicle fell into a cordoned "
                        "stretch of sea eleven kilometres offshore. " + t.ROCKET_SYNDICATED_EXTRA)
    img = photo(COASTAL.origin + "/wire/images/hg-northwind-launch.jpg", "rocket", width=800)
    main = (f"<article><h1>{headline}</h1><p class=\"byline\">{author}, Harbour Gazette "
            f"&middot; {date}</p>{c.figure(d, img, 'The demonstrator leaves the tower.')}"
            f"{c.paragraphs(body)}<p class=\"syndication\">This story first appeared in the "
            f"Harbour Gazette and is republished with permission.</p></article>"
            f"{c.share_buttons(d)}")
    return c.page(d, headline, main, layout="news", sidebar=c.ad_slot(d), tags=("syndicated",),
                  duplicate_of=f"{G}/news/2024/05/{ARTICLES[0][0]}")


def _storm() -> Page:
    d = Draft(GAZETTE, "/news/2024/06/storm-damage-overnight")
    main = (f"<article><h1>Storm brings down trees and power lines</h1>"
            f"{c.paragraphs(t.STORM * 6)}</article>")
    return c.page(d, "Storm brings down trees and power lines", main, layout="news",
                  tags=("truncated",))


def pages() -> list[Page]:
    out = [_front_page()]
    out += [_article(a[0], f"/news/2024/05/{a[0]}") for a in ARTICLES]
    out.append(_article("greek-coins-harbour-museum", "/news/2024/05/greek-coins-harbour-museum"
                        "?utm_source=newsletter&utm_medium=email&utm_campaign=weekly",
                        tags=("url_variant",),
                        duplicate_of=f"{G}/news/2024/05/greek-coins-harbour-museum"))
    out += [_syndicated(), _storm()]
    return out
