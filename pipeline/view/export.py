"""``flamingo view --html OUT.html``: a chosen set of samples as one self-contained page.

Images are embedded as ``data:`` thumbnails (``--thumb_px``; 0 embeds the stored bytes), the
stylesheet is inlined under a Content-Security-Policy that allows nothing else (no script,
no request), so the file can be attached to a report or mailed and opened anywhere.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable

from pipeline.view import media
from pipeline.view.catalog import Catalog
from pipeline.view.markup import Markup, anchor_id, el
from pipeline.view.model import ImageView, SampleView, build
from pipeline.view.pages import document, render_sample


def thumb_src(thumb_px: int):
    """An ``image_src`` for :func:`~pipeline.view.pages.render_sample` that embeds thumbnails."""

    def src(view: SampleView, im: ImageView) -> str | None:
        data = view.members.get(im.member)
        small = media.thumbnail(data, thumb_px) if data else None
        return media.data_uri(small) if small else None

    return src


def pick(catalog: Catalog, *, keys: Iterable[str] = (), query: str = "", limit: int = 20) -> list[tuple[int, str]]:
    """(shard, key) of the chosen samples: the named keys, else the search's matches, else the
    first ``limit`` samples in shard order."""
    keys = list(keys)
    if keys:
        out = []
        for key in keys:
            i = catalog.locate(key)
            if i is None:
                raise KeyError(key)
            out.append((i, key))
        return out
    if query:
        found, _ = catalog.search(query, [s.index for s in catalog.shards], limit=limit)
        return [(i, row["key"]) for i, row in found]
    out = []
    for shard in catalog.shards:
        table = catalog.table(shard.index)
        out += [(shard.index, k) for k in table.columns["key"][: limit - len(out)]]
        if len(out) >= limit:
            break
    return out


def load_view(catalog: Catalog, i: int, key: str, *, max_tokens: int | None, max_images: int | None) -> SampleView:
    region = catalog.read(i, key)
    return build(key, region.members, region.problems, max_tokens=max_tokens, max_images=max_images)


def export_html(catalog: Catalog, picks: list[tuple[int, str]], out_path: str, *, thumb_px: int,
                max_tokens: int | None, max_images: int | None, title: str = "") -> str:
    """Write the page (atomically) and return its path."""
    included = {key for _, key in picks}
    articles, toc = [], []
    for i, key in picks:
        view = load_view(catalog, i, key, max_tokens=max_tokens, max_images=max_images)
        articles.append(render_sample(
            view, image_src=thumb_src(thumb_px), shard_name=catalog.shards[i].name,
            siblings=catalog.siblings(view.doc_id), shard_index=i, heading="h2",
            sibling_href=lambda s, k: f"#{anchor_id('s', k)}" if k in included else None))
        toc.append(el("li", {}, el("a", {"href": f"#{anchor_id('s', key)}"}, key), " ",
                      el("bdi", {"class": "url"}, view.url)))
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    shards = sorted({catalog.shards[i].name for i, _ in picks})
    body = [el("h1", {}, title or f"{len(picks)} samples"),
            el("p", {"class": "muted"}, f"from {', '.join(shards) or 'no shard'} · written {when} by flamingo view"
               + (f" · images as thumbnails of at most {thumb_px} px" if thumb_px else "")),
            el("ol", {"class": "toc"}, toc), Markup("".join(articles))]
    html = document(title or "flamingo samples", body, inline_css=True, search=None)
    tmp = f"{out_path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(html)
    os.replace(tmp, out_path)
    return out_path
