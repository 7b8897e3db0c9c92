"""Pages of the sample crawl, one module per layout family; ``all_pages`` gathers them."""

from __future__ import annotations

from pipeline.samplecrawl.model import Page


def all_pages() -> list[Page]:
    from pipeline.samplecrawl.pages import blog, foreign, forum, news, portal, recipes, shop

    pages: list[Page] = []
    for module in (news, recipes, blog, shop, forum, foreign, portal):
        pages.extend(module.pages())
    return pages
