"""Recipe layout: Quiet Kitchen's coffee recipes, with the long personal introduction, a "jump to
recipe" link, JSON-LD, ingredient and method lists, ratings and comments; a printer-friendly copy
of one recipe (same main text, other chrome) and the recipe index (a listing).
"""

from __future__ import annotations

import json

from pipeline.samplecrawl import chrome as c
from pipeline.samplecrawl.model import Draft, Page
from pipeline.samplecrawl.sites import KITCHEN, photo

K = KITCHEN.origin + "/wp-content/uploads/2024/04"

RECIPES = {
    "cold-brew-coffee": dict(
        title="Slow cold brew coffee concentrate",
        intro="""
I resisted cold brew for years because it seemed like a lot of fuss for something you could make by pouring hot coffee over ice. Then a friend who runs a small roastery handed me a jar of her concentrate on a hot afternoon, and I understood. Cold brew is smoother and rounder than iced coffee, with almost none of the sharp bitterness that hot water pulls out of the grounds.

The method could hardly be simpler. Coarsely ground coffee sits in cold water for most of a day, and then you strain it. The result is a concentrate that keeps in the fridge for a week and can be diluted with water or milk, poured over ice, or used in desserts. I make a jar on Sunday evening and it lasts me until Friday.

The two things that matter are the grind and the time. A fine grind turns muddy and is very hard to strain, so ask for a coarse grind like the one you would use in a French press. Fourteen to eighteen hours gives the best balance; much longer and the coffee starts to taste woody.
""",
        ingredients=["100 g coarsely ground coffee", "1 litre cold filtered water",
                     "ice, milk or water to serve"],
        steps=["Put the ground coffee in a large jar and pour over the cold water.",
               "Stir well so that all the grounds are wet, then cover the jar.",
               "Leave at room temperature for 14 to 18 hours.",
               "Strain through a sieve lined with a paper filter or a clean cloth.",
               "Dilute one part concentrate with one or two parts water or milk, and serve over "
               "ice."],
        photos=[("cold-brew-jar.jpg", (0.0, 0.0, 0.7, 1.0), 640, "JPEG"),
                ("cold-brew-pour.webp", (0.3, 0.0, 1.0, 0.8), 520, "WEBP")]),
    "affogato": dict(
        title="Affogato with cardamom cream",
        intro="""
An affogato is barely a recipe at all: a scoop of ice cream with a shot of hot espresso poured over it at the table. It is the dessert I make most often when friends come for dinner, because it takes two minutes and everybody loves watching the ice cream start to melt into the coffee.

This version adds a spoonful of lightly whipped cream flavoured with crushed cardamom. The spice is warm and a little floral, and it works beautifully with dark coffee. If you do not have an espresso machine, very strong coffee from a stovetop pot or a cafetière works almost as well, as long as it is properly hot.

Use the best vanilla ice cream you can find, or make your own. Chill the glasses in the freezer for ten minutes before serving so that the ice cream holds its shape a little longer.
""",
        ingredients=["4 scoops vanilla ice cream", "4 shots hot espresso",
                     "100 ml double cream", "4 cardamom pods", "1 tsp icing sugar"],
        steps=["Crush the cardamom pods, remove the seeds and grind them finely.",
               "Whip the cream with the sugar and ground cardamom to soft peaks.",
               "Put a scoop of ice cream into each chilled glass.",
               "At the table, pour a shot of hot espresso over each scoop.",
               "Top with a spoonful of the cardamom cream and serve at once."],
        photos=[("affogato-glass.jpg", (0.2, 0.1, 0.8, 0.9), 600, "JPEG")]),
    "coffee-walnut-tiramisu": dict(
        title="Coffee and walnut tiramisu",
        intro="""
This is the tiramisu I make for birthdays, and it is a little different from the classic. Toasted walnuts go between the layers, which gives the soft dessert some welcome crunch, and the coffee syrup has a splash of dark rum instead of marsala. It needs to be made the day before, which makes it ideal for a party.

I use mascarpone and whipped cream rather than raw eggs, partly because it is quicker and partly because it means I can serve it to anyone. The sponge fingers should be dipped quickly, one at a time, so that they soak up the coffee without falling apart. Two seconds is plenty.

Toast the walnuts in a dry pan until they smell nutty, and let them cool completely before you chop them. Dust the top with cocoa only just before serving, or it will turn damp in the fridge.
""",
        ingredients=["300 ml strong coffee, cooled", "2 tbsp dark rum", "250 g mascarpone",
                     "300 ml double cream", "80 g caster sugar", "200 g sponge fingers",
                     "80 g walnuts, toasted and chopped", "cocoa powder for dusting"],
        steps=["Mix the cooled coffee with the rum in a shallow dish.",
               "Beat the mascarpone with the sugar, then fold in the cream whipped to soft peaks.",
               "Dip half the sponge fingers in the coffee and lay them in a dish.",
               "Spread over half the cream and scatter with half the walnuts.",
               "Repeat the layers, cover and chill overnight.",
               "Dust with cocoa just before serving."],
        photos=[("tiramisu-coffee.jpg", (0.4, 0.3, 1.0, 1.0), 480, "JPEG"),
                ("tiramisu-cups.jpg", (0.0, 0.2, 0.6, 0.9), 560, "JPEG")]),
}


def _photo_assets(slug: str) -> list:
    return [photo(f"{K}/{name}", "coffee", box, width, fmt)
            for name, box, width, fmt in RECIPES[slug]["photos"]]


def _recipe_card(r: dict) -> str:
    ing = "".join(f"<li>{i}</li>" for i in r["ingredients"])
    steps = "".join(f"<li>{s}</li>" for s in r["steps"])
    return (f'<div class="recipe-card" id="recipe"><h2>{r["title"]}</h2>'
            '<p class="meta">Prep: 15 minutes &middot; Serves: 4</p>'
            f"<h3>Ingredients</h3><ul>{ing}</ul><h3>Method</h3><ol>{steps}</ol></div>")


def _json_ld(r: dict, url: str) -> str:
    data = {"@context": "https://schema.org", "@type": "Recipe", "name": r["title"], "url": url,
            "recipeIngredient": r["ingredients"], "recipeInstructions": r["steps"]}
    return f'<script type="application/ld+json">{json.dumps(data)}</script>\n'


def _later_image(d: Draft, a, alt: str) -> str:
    """WebP photos get a ``<picture>`` with a JPEG twin; the others load lazily."""
    if a.spec.fmt != "WEBP":
        return c.lazy_img(d, a, alt)
    twin = photo(a.url.rsplit(".", 1)[0] + ".jpg", a.spec.source, a.spec.box, a.spec.width)
    return c.picture(d, a, twin, alt)


def _recipe(slug: str) -> Page:
    r = RECIPES[slug]
    d = Draft(KITCHEN, f"/recipes/{slug}/")
    imgs = _photo_assets(slug)
    first = c.figure(d, imgs[0], r["title"] + ", ready to serve.")
    rest = "".join(_later_image(d, a, r["title"]) for a in imgs[1:])
    main = (f'<article class="post"><h1>{r["title"]}</h1><a class="jump" href="#recipe">Jump to '
            f'recipe</a> <span class="rating">&#9733;&#9733;&#9733;&#9733;&#9734; (38 ratings)'
            f'</span>{c.share_buttons(d)}{first}{c.paragraphs(r["intro"])}{rest}'
            f'{c.ad_slot(d)}{_recipe_card(r)}</article><p class="print"><a href="/print/{slug}/">'
            f'Print recipe</a></p>{c.newsletter_box()}' + c.comments(d, [
                ("Hannah", None, "Made this on Saturday and it was a hit. Thank you!"),
                ("Oskar", None, "Could I use decaf? My partner avoids caffeine."),
                ("Quiet Kitchen", None, "Yes, decaf works just as well.")]))
    sidebar = c.related([(f"/recipes/{s}/", RECIPES[s]["title"]) for s in RECIPES if s != slug],
                        "You may also like")
    return c.page(d, r["title"], main, layout="recipe", sidebar=sidebar,
                  head_extra=_json_ld(r, d.url))


def _print_version(slug: str) -> Page:
    """Printer-friendly copy: the same introduction and recipe, none of the site's chrome."""
    r = RECIPES[slug]
    d = Draft(KITCHEN, f"/print/{slug}/")
    logo = d.use(KITCHEN.logo)
    html = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{r["title"]}'
            f'</title><meta name="robots" content="noindex"></head><body class="print">'
            f'<img src="{logo}" alt="Quiet Kitchen"><article class="post"><h1>{r["title"]}</h1>'
            f'{c.paragraphs(r["intro"])}{_recipe_card(r)}</article>'
            "<script>window.print()</script></body></html>\n")
    return Page(d.url, html, "recipe", list(d.assets), tags=("print_copy",),
                duplicate_of=f"{KITCHEN.origin}/recipes/{slug}/")


def _index() -> Page:
    d = Draft(KITCHEN, "/recipes/")
    cards = []
    for i, (slug, r) in enumerate(RECIPES.items()):
        thumb = photo(f"{K}/{slug}-thumb-150x150.jpg", "coffee",
                      (0.25 + 0.05 * i, 0.2, 0.75 + 0.05 * i, 0.9), 150, height=150,
                      role="thumbnail")
        cards.append(f'<li><a href="/recipes/{slug}/">{c.img(d, thumb, "")}'
                     f'<span>{r["title"]}</span></a></li>')
    main = (f'<h1>All recipes</h1><ul class="recipe-grid">{"".join(cards)}</ul>'
            '<nav class="pagination"><a href="?page=2">Next &raquo;</a></nav>'
            f"{c.newsletter_box()}")
    return c.page(d, "All recipes", main, layout="listing", sidebar=c.ad_slot(d))


def pages() -> list[Page]:
    return [_index()] + [_recipe(s) for s in RECIPES] + [_print_version("cold-brew-coffee")]
