"""Product layout: Lanternworks' shop pages with galleries, prices, specification tables,
reviews and "customers also bought"; a near-duplicate variant page (framed poster) whose
description differs by a sentence; and the category page (a listing).
"""

from __future__ import annotations

from pipeline.samplecrawl import chrome as c
from pipeline.samplecrawl.model import Draft, Page
from pipeline.samplecrawl.sites import LANTERN, photo

L = LANTERN.origin + "/cdn/shop/products"

PRODUCTS = {
    "astronaut-portrait-print": dict(
        name="Astronaut portrait art print", price="£24.00", source="astronaut",
        description="""
A museum-quality giclée print of an official astronaut portrait, reproduced from the public-domain original with careful colour correction. The astronaut stands in a flight suit in front of the American flag, holding a helmet, with a model of the Space Shuttle at her shoulder.

We print on heavyweight matte cotton paper with archival pigment inks that are rated to resist fading for more than a century when kept out of direct sunlight. Each print has a narrow white border to make framing easier and is signed on the back by our print technician.

The original photograph was taken in the 1990s as the official portrait for a crew member of an early Space Shuttle mission. We worked from a high-resolution scan and compared our proofs against the archive copy, so that the orange of the flight suit and the deep blue of the background stay true without looking oversaturated.

Prints are rolled in acid-free tissue and shipped in a sturdy cardboard tube. Please allow three working days for printing before dispatch.
""", specs={"Size": "A3 (297 x 420 mm)", "Paper": "310 gsm cotton rag", "Frame": "Not included"}),
    "brass-wall-clock": dict(
        name="Station-style wall clock", price="£58.00", source="clock",
        description="""
A large, quiet wall clock inspired by the clocks that once hung on railway platforms, with bold black numerals that are easy to read from across a room. The case is spun steel with a brushed finish, and the glass is slightly domed to reduce reflections.

The movement is a silent sweep mechanism, so there is no ticking, which makes the clock suitable for bedrooms and studies as well as kitchens. It runs for about a year on a single AA battery, which is not included.

The clock measures thirty centimetres across and hangs from a single keyhole slot on the back. It is designed and assembled in our workshop.
""", specs={"Diameter": "30 cm", "Movement": "Silent sweep", "Battery": "1 x AA"}),
    "espresso-cup-pair": dict(
        name="Stoneware espresso cups, set of two", price="£19.50", source="coffee",
        description="""
Two handmade stoneware espresso cups with matching saucers, thrown on the wheel by a small pottery and finished in a soft cream glaze with a speckled rim. Each cup holds about ninety millilitres, enough for a double shot with room to spare.

Because every piece is made by hand, the shape and the glaze vary slightly from set to set, and small marks from the kiln are part of their character rather than a fault. The cups are dishwasher safe, though hand washing will keep the glaze looking fresh for longer.

They arrive in a recycled gift box with a card explaining how they were made.
""", specs={"Capacity": "90 ml", "Material": "Stoneware", "Dishwasher": "Yes"}),
}
FRAMED_SENTENCE = (" This version comes ready to hang in a solid oak frame with a conservation "
                   "mount and acrylic glazing.")


def _thumb_boxes(shift: float) -> list[tuple[float, float, float, float]]:
    return [(0.0 + shift, 0.0, 0.6 + shift, 0.6), (0.4 - shift, 0.4, 1.0 - shift, 1.0),
            (0.2, 0.1 + shift, 0.8, 0.7 + shift)]


def _product_images(d: Draft, slug: str, src: str, framed: bool) -> str:
    suffix = "-framed" if framed else ""
    main = photo(f"{L}/{slug}{suffix}-main_800x.jpg", src,
                 (0.05, 0.0, 0.95, 1.0) if framed else (0.0, 0.0, 1.0, 1.0), 800 - 40 * framed)
    thumbs = [photo(f"{L}/{slug}{suffix}-alt{i}_200x.jpg", src, box, 200, "PNG" if i == 2 else
                    "JPEG", role="thumbnail")
              for i, box in enumerate(_thumb_boxes(0.05 * framed))]
    lis = "".join(f'<li>{c.img(d, a, "Alternative view")}</li>' for a in thumbs)
    return (f'<div class="product-gallery">{c.figure(d, main, "")}'
            f'<ul class="thumbs">{lis}</ul></div>')


def _product(slug: str, framed: bool = False) -> Page:
    p = PRODUCTS[slug]
    path = f"/products/{slug}" + ("-framed" if framed else "")
    d = Draft(LANTERN, path)
    desc = p["description"].strip()
    if framed:
        first, rest = desc.split("\n\n", 1)
        desc = first + FRAMED_SENTENCE + "\n\n" + rest
    specs = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in p["specs"].items())
    name = p["name"] + (" (framed)" if framed else "")
    price = "£89.00" if framed else p["price"]
    main = (f'<nav class="breadcrumbs"><a href="/">Home</a> / <a href="/collections/all">Shop'
            f'</a> / {name}</nav><div class="product">'
            f'{_product_images(d, slug, p["source"], framed)}<div class="product-info">'
            f'<h1>{name}</h1><p class="price">{price} <span class="vat">incl. VAT</span></p>'
            '<form action="/cart/add"><select name="qty"><option>1</option><option>2</option>'
            '</select><button>Add to basket</button></form><p class="delivery">Free UK delivery '
            f'over £50</p></div></div><section class="description"><h2>Description</h2>'
            f'{c.paragraphs(desc)}</section><table class="specs">{specs}</table>'
            '<section class="reviews"><h2>Reviews (3)</h2><p>&#9733;&#9733;&#9733;&#9733;&#9733; '
            '"Arrived quickly and well packed." - Sam</p><p>&#9733;&#9733;&#9733;&#9733;&#9734; '
            '"Lovely quality, slightly smaller than I expected." - Priti</p></section>'
            f"{c.share_buttons(d)}")
    sidebar = c.related([(f"/products/{s}", PRODUCTS[s]["name"]) for s in PRODUCTS if s != slug],
                        "Customers also bought")
    return c.page(d, name, main, layout="product", sidebar=sidebar,
                  tags=("variant",) if framed else (),
                  duplicate_of=f"{LANTERN.origin}/products/{slug}" if framed else "")


def _category() -> Page:
    d = Draft(LANTERN, "/collections/all")
    cards = []
    for slug, p in PRODUCTS.items():
        a = photo(f"{L}/{slug}-main_300x.jpg", p["source"], width=300, quality=75)
        cards.append(f'<li class="card"><a href="/products/{slug}">{c.img(d, a, p["name"])}'
                     f'<span>{p["name"]}</span></a><span class="price">{p["price"]}</span></li>')
    main = ('<h1>All products</h1><div class="filters">Sort by: <select><option>Featured'
            '</option><option>Price, low to high</option></select></div>'
            f'<ul class="product-grid">{"".join(cards)}</ul>{c.newsletter_box()}')
    return c.page(d, "All products", main, layout="listing")


def pages() -> list[Page]:
    return ([_category()] + [_product(s) for s in PRODUCTS]
            + [_product("astronaut-portrait-print", framed=True)])
