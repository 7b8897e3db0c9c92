"""Blog layout: Fern & Feather's posts (one a gallery of cat portraits), its home page (a
listing), and the Stargazers Club's observing report and members' article.
"""

from __future__ import annotations

from pipeline.samplecrawl import chrome as c
from pipeline.samplecrawl.model import Draft, Page
from pipeline.samplecrawl.pages import blog_text as t
from pipeline.samplecrawl.sites import FERN, STARS, http_only, photo

F = FERN.origin + "/wp-content/uploads/2024"
# (crop box, width, format, caption) for the gallery: a week of portraits of the same cat
GALLERY = [
    ((0.0, 0.0, 1.0, 1.0), 640, "JPEG", "Monday: the windowsill, side light."),
    ((0.2, 0.0, 0.8, 0.9), 420, "JPEG", "Tuesday: grey light from the skylight."),
    ((0.3, 0.1, 0.9, 0.7), 500, "WEBP", "Wednesday: the least blurred frame."),
    ((0.1, 0.2, 0.7, 1.0), 380, "JPEG", "Thursday: waiting for the sun to move."),
    ((0.25, 0.0, 0.95, 0.75), 560, "PNG", "Friday: eye level, at last."),
    ((0.4, 0.15, 0.7, 0.55), 360, "JPEG", "Saturday: a crop to show the fur."),
]

POSTS = {
    "a-week-of-chelsea": ("A week of Chelsea: daily portraits in window light", t.GALLERY,
                          "gallery"),
    "night-sky-from-a-balcony": ("Photographing the night sky from a town balcony", t.NIGHT_SKY,
                                 "blog"),
    "why-i-still-shoot-film": ("Why I still shoot with my grandfather's film camera",
                               t.FILM_CAMERA, "blog"),
    "colour-wheel-for-painters": ("The colour wheel for painters who hate theory", t.COLOUR,
                                  "blog"),
}


def _gallery(d: Draft) -> str:
    items = []
    for i, (box, width, fmt, caption) in enumerate(GALLERY):
        ext = {"JPEG": "jpg", "WEBP": "webp", "PNG": "png"}[fmt]
        a = photo(f"{F}/05/chelsea-day-{i + 1}.{ext}", "chelsea", box, width, fmt)
        items.append(c.lazy_img(d, a, f"Chelsea the cat, day {i + 1}", caption) if i > 1
                     else c.figure(d, a, caption, f"Chelsea the cat, day {i + 1}"))
    return f'<div class="gallery gallery-columns-3">{"".join(items)}</div>'


def _post_images(d: Draft, slug: str) -> str:
    if slug == "a-week-of-chelsea":
        return _gallery(d)
    if slug == "night-sky-from-a-balcony":
        return (c.figure(d, photo(f"{F}/03/moon-from-balcony.jpg", "moon", (0.1, 0.1, 0.9, 0.9),
                                  500), "The Moon from the balcony, 1/250 s at f/8.")
                + c.figure(d, photo(f"{F}/03/deep-field-crop.jpg", "hubble_deep_field",
                                    (0.0, 0.0, 0.5, 0.5), 450),
                           "A crop of a deep field image: nearly every speck is a galaxy."))
    if slug == "why-i-still-shoot-film":
        return c.figure(d, photo(f"{F}/02/film-photographer.jpg", "camera", width=512, quality=85),
                        "A photographer with a camera on a tripod, in black and white.")
    return (c.figure(d, photo(f"{F}/01/colour-wheel.png", "colorwheel", width=370, fmt="PNG"),
                     "A colour wheel: complements sit opposite each other.")
            + c.figure(d, http_only("https://images.paintersforum.example/uploads/palette.jpg"),
                       "My palette after mixing greys from complements (hot-linked)."))


def _post(slug: str) -> Page:
    title, body, layout = POSTS[slug]
    d = Draft(FERN, f"/2024/05/{slug}/")
    main = (f'<article class="post"><h1 class="entry-title">{title}</h1><p class="posted-on">'
            'Posted on May 2024 by Iris</p>' + c.paragraphs(body)
            + _post_images(d, slug) + c.share_buttons(d) + "</article>"
            + c.comments(d, [("Tom", None, "Lovely post, thank you for sharing."),
                             ("Ana", None, "Which lens do you use for these?")]))
    sidebar = (c.related([(f"/2024/05/{s}/", POSTS[s][0]) for s in POSTS if s != slug],
                         "Recent posts") + c.newsletter_box())
    return c.page(d, title, main, layout=layout, sidebar=sidebar, banner=False)


def _home() -> Page:
    d = Draft(FERN, "/")
    teasers = "".join(f'<article class="teaser"><h2><a href="/2024/05/{s}/">{title}</a></h2>'
                      f'<p>{body.strip().split(". ")[0]}. <a href="/2024/05/{s}/">Continue '
                      "reading &rarr;</a></p></article>" for s, (title, body, _) in POSTS.items())
    return c.page(d, "Notes on photography, painting and the garden", teasers, layout="listing",
                  sidebar=c.newsletter_box(), banner=False)


def _club(path: str, title: str, body: str, image) -> Page:
    d = Draft(STARS, path)
    main = (f"<article><h1>{title}</h1>{c.figure(d, image, title)}{c.paragraphs(body)}</article>"
            '<div class="members-only"><a href="/join">Join the club</a> to download the raw '
            "data.</div>")
    return c.page(d, title, main, layout="blog", sidebar=c.related(
        [("/events", "Upcoming events"), ("/equipment/loan", "Borrow a telescope")], "Club"))


def pages() -> list[Page]:
    out = [_home()] + [_post(s) for s in POSTS]
    out.append(_club("/reports/2024-04-first-quarter-moon", "Observing report: the first-quarter "
                     "Moon", t.MOON_REPORT, photo(STARS.origin + "/images/reports/moon-fq.png",
                                                  "moon", width=512, fmt="PNG")))
    out.append(_club("/articles/what-the-deep-field-taught-us", "What the deep field taught us",
                     t.DEEP_FIELD, photo(STARS.origin + "/images/articles/deep-field.jpg",
                                         "hubble_deep_field", width=800, quality=82)))
    return out
