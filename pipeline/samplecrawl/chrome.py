"""The furniture of real web pages, shared by every layout: header and nav, cookie banner,
newsletter box, share buttons, ads, related links, comments, footer, tracking pixel; and the
several ways pages embed images (figure, picture/srcset, lazy ``data-src`` with ``noscript``).

Each helper takes the page's ``Draft`` so that the images it writes are recorded as assets.
"""

from __future__ import annotations

from html import escape

from pipeline.samplecrawl.model import Asset, Draft, Page
from pipeline.samplecrawl.sites import AD_RECT, BLANK_GIF_URI, LEADERBOARD, pixel, share_icon


def img(d: Draft, a: Asset, alt: str, cls: str = "", size: tuple[int, int] | None = None) -> str:
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    klass = f' class="{cls}"' if cls else ""
    return f'<img src="{d.use(a)}" alt="{escape(alt)}"{klass}{dims}>'


def figure(d: Draft, a: Asset, caption: str, alt: str = "", credit: str = "") -> str:
    cred = f' <span class="credit">{escape(credit)}</span>' if credit else ""
    return (f'<figure class="article-figure">{img(d, a, alt or caption)}'
            f"<figcaption>{escape(caption)}{cred}</figcaption></figure>")


def srcset_figure(d: Draft, fallback: Asset, widths: list[tuple[Asset, int]], caption: str,
                  alt: str) -> str:
    """An ``<img srcset>`` with several widths; the fallback ``src`` is usually the middle one."""
    srcset = ", ".join(f"{d.use(a)} {w}w" for a, w in widths)
    return (f'<figure><img src="{d.use(fallback)}" srcset="{srcset}" '
            f'sizes="(max-width: 800px) 100vw, 800px" alt="{escape(alt)}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def picture(d: Draft, webp: Asset, jpeg: Asset, alt: str, caption: str = "") -> str:
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return (f'<figure><picture><source type="image/webp" srcset="{d.use(webp)}">'
            f'<img src="{d.use(jpeg)}" alt="{escape(alt)}" loading="lazy"></picture>{cap}</figure>')


def lazy_img(d: Draft, a: Asset, alt: str, caption: str = "",
             placeholder: Asset | None = None) -> str:
    """A lazy-loaded image: placeholder ``src``, real URL in ``data-src``, ``noscript`` fallback."""
    ph = d.use(placeholder) if placeholder else BLANK_GIF_URI
    real = d.use(a)
    cap = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return (f'<figure><img class="lazyload" src="{ph}" data-src="{real}" alt="{escape(alt)}">'
            f'<noscript><img src="{real}" alt="{escape(alt)}"></noscript>{cap}</figure>')


def paragraphs(text: str) -> str:
    """Blank-line separated prose to ``<p>`` elements."""
    return "\n".join(f"<p>{escape(p.strip())}</p>" for p in text.strip().split("\n\n"))


def cookie_banner() -> str:
    return ('<div id="cookie-consent" class="cookie-banner" role="dialog"><p>We and our 142 '
            "partners use cookies and similar technologies to store and access information on "
            "your device, to personalise ads and content, and to measure audiences.</p>"
            '<button class="accept">Accept all</button><button class="reject">Reject all</button>'
            '<a href="/privacy-settings">Manage preferences</a></div>')


def newsletter_box() -> str:
    return ('<div class="newsletter"><h3>Get our newsletter</h3><p>The best of the week, every '
            'Friday. No spam, unsubscribe any time.</p><form action="/subscribe" method="post">'
            '<input type="email" name="email" placeholder="Your email address">'
            '<button type="submit">Subscribe</button></form></div>')


def share_buttons(d: Draft) -> str:
    icon = d.use(share_icon(d.site))
    links = "".join(f'<li><a href="https://{n}.example/share?u={escape(d.url)}">{n.title()}'
                    "</a></li>" for n in ("facebook", "x", "linkedin", "whatsapp"))
    return (f'<div class="share"><img src="{icon}" alt="" width="16" height="16"> Share this:'
            f"<ul>{links}</ul></div>")


def ad_slot(d: Draft, leaderboard: bool = False) -> str:
    a = LEADERBOARD if leaderboard else AD_RECT
    w, h = (728, 90) if leaderboard else (336, 280)
    return (f'<div class="ad" data-ad-slot="{"top" if leaderboard else "sidebar"}">'
            f'<span class="ad-label">Advertisement</span><a href="https://ads.bannerfield.example/'
            f'click?c=1"><img src="{d.use(a)}" alt="Advertisement" width="{w}" height="{h}"></a>'
            "</div>")


def related(items: list[tuple[str, str]], title: str = "Related articles") -> str:
    lis = "".join(f'<li><a href="{escape(u)}">{escape(t)}</a></li>' for u, t in items)
    return f'<aside class="related"><h3>{escape(title)}</h3><ul>{lis}</ul></aside>'


def comments(d: Draft, entries: list[tuple[str, Asset | None, str]]) -> str:
    out = []
    for who, avatar, text in entries:
        av = img(d, avatar, "", "avatar", (48, 48)) if avatar else ""
        out.append(f'<li class="comment">{av}<b class="author">{escape(who)}</b>'
                   f"<p>{escape(text)}</p></li>")
    return (f'<section id="comments"><h3>{len(entries)} comments</h3><ol>{"".join(out)}</ol>'
            '<p><a href="/login">Log in to comment</a></p></section>')


def _header(d: Draft) -> str:
    nav = "".join(f'<li><a href="/{n.lower().replace(" ", "-")}">{escape(n)}</a></li>'
                  for n in d.site.nav)
    return (f'<header class="site-header"><a class="logo" href="/">'
            f'{img(d, d.site.logo, d.site.name + " logo")}</a>'
            f'<nav class="main-nav"><ul>{nav}</ul></nav>'
            '<form class="search" action="/search"><input name="q" placeholder="Search">'
            "</form></header>")


def _footer(d: Draft) -> str:
    links = " | ".join(f'<a href="/{s}">{s.replace("-", " ").title()}</a>' for s in
                       ("about-us", "contact", "careers", "advertise", "privacy-policy",
                        "cookie-policy", "terms-of-use", "accessibility", "sitemap"))
    px = d.use(pixel(d.site, d.path))
    return (f'<footer class="site-footer"><p>{links}</p><p>&copy; 2024 {escape(d.site.name)}. '
            "All rights reserved.</p>"
            f'<img src="{px}" width="1" height="1" alt="" style="display:none"></footer>')


def page(d: Draft, title: str, main: str, *, layout: str, sidebar: str = "", lang: str = "en",
         charset: str = "utf-8", head_extra: str = "", x_robots_tag: str = "",
         tags: tuple[str, ...] = (), banner: bool = True, duplicate_of: str = "") -> Page:
    """Wrap the main content in the site's chrome and return the finished ``Page``."""
    fav = d.use(d.site.favicon)
    cookie = cookie_banner() if banner else ""
    aside = f'<aside class="sidebar">{sidebar}</aside>' if sidebar else ""
    html = (f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="{charset}">\n'
            f"<title>{escape(title)} | {escape(d.site.name)}</title>\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<link rel="icon" type="image/png" href="{fav}">\n'
            f'<link rel="canonical" href="{escape(d.url.split("?")[0])}">\n'
            f'<link rel="stylesheet" href="/static/css/main.css?v=20240512">\n{head_extra}'
            f'<script async src="https://tags.trackhub.example/gtm.js?id=TH-4821"></script>\n'
            f"</head>\n<body>\n{cookie}\n{_header(d)}\n<main>\n{main}\n</main>\n{aside}\n"
            f"{_footer(d)}\n</body>\n</html>\n")
    return Page(d.url, html, layout, list(d.assets), lang, charset, x_robots_tag, tags,
                duplicate_of)
