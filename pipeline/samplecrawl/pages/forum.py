"""Forum layout: Tinkerbench threads with avatars, signatures, quotes and user-uploaded photos,
including image links that point at loopback, link-local (cloud metadata), private and numeric
addresses, which only an HTTP fetch could try and a safe fetcher must refuse; and the board index.
"""

from __future__ import annotations

from html import escape

from pipeline.samplecrawl import chrome as c
from pipeline.samplecrawl.model import Asset, Draft, ImageSpec, Page
from pipeline.samplecrawl.sites import TINKER, http_only, photo

T = TINKER.origin
ATT = T + "/attachments"
# coloured initials are the forum's default avatars; a couple of members uploaded photos
MEMBERS = {
    "rustbucket_72": Asset(f"{T}/data/avatars/m/0/72.jpg", "avatar",
                           ImageSpec("photo", "motorcycle", (0.3, 0.3, 0.6, 0.8), 64, 64)),
    "Lena_K": Asset(f"{T}/data/avatars/m/1/1045.png", "avatar",
                    ImageSpec("initials", width=64, text="LK", color=(170, 60, 90), fmt="PNG")),
    "oldgit_engineering": Asset(f"{T}/data/avatars/m/0/311.png", "avatar",
                                ImageSpec("initials", width=64, text="OE", color=(40, 120, 160),
                                          fmt="PNG")),
    "micro_mel": Asset(f"{T}/data/avatars/m/2/2210.jpg", "avatar",
                       ImageSpec("photo", "astronaut", (0.35, 0.05, 0.65, 0.4), 64, 64)),
    "darkroom_dave": Asset(f"{T}/data/avatars/m/0/508.png", "avatar",
                           ImageSpec("initials", width=64, text="DD", color=(90, 90, 30),
                                     fmt="PNG")),
}

THREADS = {
    "restoring-a-1970s-road-bike.4412": ("Restoring a 1970s road bike: where do I start?", [
        ("rustbucket_72", "Picked up an old road bike from a barn sale last weekend. It turns over "
         "and the frame looks straight, but everything rubber has perished and the carbs are full "
         "of varnish. I have basic tools and a garage but I have never done a full restoration. "
         "Where would you start, and what should I not attempt myself?",
         [photo(f"{ATT}/barn-find-1.jpg", "motorcycle", (0.0, 0.1, 0.7, 1.0), 640),
          http_only("http://127.0.0.1:8080/uploads/barn-find-2.jpg")]),
        ("oldgit_engineering", "Before you spend anything, take lots of photos of every part "
         "before you remove it, and bag and label the fasteners. Then do the boring jobs first: "
         "brakes, tyres and fuel system. A bike that stops is more important than a bike that "
         "goes. Carb rebuild kits are cheap and it is a good first job to learn on.", []),
        ("Lena_K", "Agree with the above. Also check the frame numbers match the registration "
         "documents before you get attached to it. I restored one a few years ago and the "
         "paperwork took longer than the engine.",
         [photo(f"{ATT}/lena-restored-engine.jpg", "motorcycle", (0.3, 0.3, 0.9, 0.9), 480)]),
    ]),
    "cheap-microscope-for-stained-slides.5120": ("Cheap microscope for looking at stained "
                                                  "slides?", [
        ("micro_mel", "My daughter is studying biology and has some prepared slides from a "
         "course. We would like a microscope that can show the stained cells properly without "
         "spending a fortune. Is a second-hand lab microscope a better buy than a new hobby one?",
         []),
        ("oldgit_engineering", "Second-hand lab microscopes are excellent value if the optics are "
         "clean. Look for a proper mechanical stage and a condenser you can adjust. Here is what "
         "mine shows with a cheap phone adapter, a section stained for a protein:",
         [photo(f"{ATT}/stained-section-phone.jpg", "immunohistochemistry", (0.2, 0.2, 0.8, 0.8),
                500, quality=70)]),
        ("darkroom_dave", "Tried to post my photo from work but it will not show for some reason:",
         [http_only("http://10.0.0.5/intranet/lab/scope-photo.jpg")]),
    ]),
    "sensor-cleaning-gone-wrong.5301": ("Sensor cleaning gone wrong", [
        ("darkroom_dave", "Cleaned my camera sensor with a swab for the first time and now there "
         "is a streak across every photo taken at small apertures. Is this a smear I can fix or "
         "have I scratched it? Test shot of the sky at f/16 attached.",
         [photo(f"{ATT}/sensor-test-f16.jpg", "camera", (0.0, 0.0, 1.0, 0.5), 512)]),
        ("Lena_K", "Almost certainly a smear of cleaning fluid. Use a fresh swab with only one "
         "or two drops and a single slow pass in each direction. Scratches on the filter glass "
         "are rare unless grit was trapped under the swab.", []),
        ("rustbucket_72", "mirror of the test shot for people who cannot see attachments:",
         [http_only("http://169.254.169.254/latest/meta-data/x.jpg"),
          http_only("http://2130706433/sensor.jpg")]),
    ]),
}
SIGNATURE = {"oldgit_engineering": "Measure twice, cut once, swear three times.",
             "Lena_K": "1976 twin, 1989 trail bike, too many projects."}


def _post(d: Draft, i: int, who: str, text: str, attachments: list[Asset]) -> str:
    atts = "".join(f'<li>{c.img(d, a, "attachment")}</li>' for a in attachments)
    sig = f'<div class="signature">{escape(SIGNATURE[who])}</div>' if who in SIGNATURE else ""
    quote = ('<blockquote class="quote">Where would you start?</blockquote>' if i == 1 else "")
    return (f'<article class="message" id="post-{i}"><div class="user">'
            f'{c.img(d, MEMBERS[who], who, "avatar", (64, 64))}<b>{escape(who)}</b>'
            f'<span class="posts">Posts: {97 * (i + 3)}</span></div><div class="body">'
            f'<time>May {10 + i}, 2024</time>{quote}<p>{escape(text)}</p>'
            f'<ul class="attachments">{atts}</ul>{sig}</div><a class="reply" href="#reply">'
            "Reply</a></article>")


def _thread(slug: str) -> Page:
    title, posts = THREADS[slug]
    d = Draft(TINKER, f"/threads/{slug}/")
    body = "".join(_post(d, i, *p) for i, p in enumerate(posts))
    main = (f'<nav class="breadcrumbs"><a href="/">Forums</a> &rsaquo; Workshop</nav>'
            f"<h1>{escape(title)}</h1>{body}"
            '<form id="reply"><textarea placeholder="Write your reply..."></textarea></form>')
    return c.page(d, title, main, layout="forum", sidebar=c.related(
        [(f"/threads/{s}/", THREADS[s][0]) for s in THREADS if s != slug], "Similar threads"))


def _index() -> Page:
    d = Draft(TINKER, "/forums/workshop.3/")
    rows = "".join(f'<tr><td><a href="/threads/{s}/">{escape(t)}</a></td><td>{len(p)}</td>'
                   f"<td>{escape(p[-1][0])}</td></tr>" for s, (t, p) in THREADS.items())
    main = ("<h1>Workshop</h1><p>Engines, electronics, optics: anything you fix with your "
            "hands.</p><table class=\"threads\"><tr><th>Thread</th><th>Replies</th>"
            f"<th>Last post</th></tr>{rows}</table>")
    return c.page(d, "Workshop", main, layout="listing")


def pages() -> list[Page]:
    return [_index()] + [_thread(s) for s in THREADS]
