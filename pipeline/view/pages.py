"""The viewer's pages, as HTML strings: shard list, sample list, search results, one sample;
and the pieces the static export and the job report reuse (a rendered sample, a card, a
whole self-contained document).

Every page string goes through :mod:`pipeline.view.markup` (escaped; addresses only ours).
Source URLs are text, never links or image sources: nothing on a page makes the browser
leave the machine. Served pages take their style from ``/static/view.css`` (``style-src
'self'``); self-contained pages inline it under a hash-pinned Content-Security-Policy.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from importlib import resources

from pipeline.view.catalog import Catalog
from pipeline.view.markup import Markup, anchor_id, el, url
from pipeline.view.model import ImageView, SampleView

PER_PAGE = 50
ImageSrc = Callable[[SampleView, ImageView], "str | None"]
SiblingHref = Callable[[int, str], "str | None"]


def stylesheet() -> str:
    return resources.files("pipeline.view").joinpath("static/view.css").read_text()


def static_csp(css: str) -> str:
    """The policy of a self-contained page: its one style block, data: images, nothing else."""
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return (f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; base-uri 'none'; "
            "form-action 'none'")


def document(title: str, body: Markup, *, crumbs: Markup | None = None, search: str | None = "",
             inline_css: bool = False) -> str:
    """A whole page. Served pages link the stylesheet; ``inline_css`` pages carry it (and their
    own Content-Security-Policy) so the file works alone, e.g. attached to a report."""
    if inline_css:
        css = stylesheet()
        head = [el("meta", {"http-equiv": "Content-Security-Policy", "content": static_csp(css)}),
                el("style", {}, Markup(css))]
    else:
        head = [el("link", {"rel": "stylesheet", "href": "/static/view.css"})]
    form = None
    if search is not None:
        form = el("form", {"action": "/search", "method": "get", "role": "search"},
                  el("input", {"type": "search", "name": "q", "value": search, "placeholder": "URL or text",
                               "aria-label": "search all shards"}),
                  el("button", {"type": "submit"}, "Search"))
    top = el("header", {"class": "top static" if inline_css else "top"},
             el("a", {"class": "brand", "href": "/"}, "flamingo view") if not inline_css
             else el("span", {"class": "brand"}, "flamingo"),
             el("span", {"class": "crumbs"}, crumbs or ""), form)
    page = el("html", {"lang": "en"},
              el("head", {}, el("meta", {"charset": "utf-8"}),
                 el("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}),
                 el("meta", {"name": "referrer", "content": "no-referrer"}),
                 el("title", {}, title), head),
              el("body", {}, top, el("main", {}, body)))
    return "<!doctype html>\n" + page


# ------------------------------------------------------------------------------- one sample


def badge(n: int | None, limit: int | None, unit: str) -> Markup:
    if n is None:
        return el("span", {"class": "badge"}, f"? {unit}")
    cls = "badge over" if limit and n > limit else "badge full" if limit and n == limit else "badge"
    return el("span", {"class": cls, "title": f"{unit} against the limit"},
              f"{n} / {limit} {unit}" if limit else f"{n} {unit}")


def render_sample(view: SampleView, *, image_src: ImageSrc, shard_name: str = "",
                  siblings: list[tuple[int, str, int]] = (), sibling_href: SiblingHref | None = None,
                  shard_index: int | None = None, heading: str = "h1") -> Markup:
    """A sample as the model will see it: facts, then text and images in order."""
    facts = [("source", el("bdi", {"class": "url"}, view.url or "—"))]
    if view.title:
        facts.append(("title", el("bdi", {}, view.title)))
    if shard_name:
        facts.append(("shard", el("bdi", {}, shard_name)))
    if view.doc_id:
        facts.append(("document", _document_line(view, siblings, sibling_href, shard_index)))
    counts = [badge(view.num_tokens, view.max_tokens, "tokens") if view.num_tokens is not None else None,
              badge(len(view.images), view.max_images if view.kind == "interleaved" and not view.dropped else None,
                    "images" if view.kind in ("interleaved", "pair") or len(view.images) < 2 else "frames")]
    facts.append(("counts", counts))
    if view.tokenizer:
        facts.append(("tokenizer", el("bdi", {}, view.tokenizer)))
    if view.dropped:
        d = view.dropped
        facts.append(("dropped", [el("span", {"class": "badge dropped"}, f"{d.get('stage', '?')}/{d.get('reason', '?')}"),
                                  el("span", {}, str(d.get("detail") or ""))]))
    body = [el(heading, {}, el("span", {"class": "key"}, view.key), " ",
               el("span", {"class": "badge kind"}, view.kind)),
            el("dl", {"class": "facts"}, [[el("dt", {}, k), el("dd", {}, v)] for k, v in facts])]
    if view.notice:
        body.append(el("p", {"class": "note"}, view.notice))
    if view.problems:
        body.append(el("ul", {"class": "problems"}, [el("li", {}, p) for p in view.problems]))
    body.append(el("div", {"class": "flow"}, [_block(view, b, image_src) for b in view.blocks]))
    if view.lm_text is not None:
        body.append(el("details", {}, el("summary", {}, "as language-model text"), el("pre", {}, view.lm_text)))
    body.append(el("details", {}, el("summary", {}, "metadata (KEY.json)"),
                   el("pre", {}, json.dumps(view.meta, indent=1, ensure_ascii=False)[:200_000])))
    return el("article", {"class": "sample", "id": anchor_id("s", view.key)}, body)


def _document_line(view: SampleView, siblings, sibling_href, shard_index) -> list:
    out: list = [el("bdi", {"class": "key"}, view.doc_id)]
    if view.seq_index is not None:
        out.append(f" · sequence {view.seq_index}")
    if len(siblings) > 1:
        links = []
        for i, key, seq in siblings:
            href = sibling_href(i, key) if sibling_href else None
            if key == view.key and (shard_index is None or i == shard_index):
                links.append(el("span", {"class": "current"}, f"[{seq}]"))
            elif href:
                links.append(el("a", {"href": href, "title": key}, f"[{seq}]"))
            else:
                links.append(el("span", {"class": "muted", "title": key}, f"[{seq}]"))
        out.append(el("div", {"class": "siblings"}, f"its {len(siblings)} sequences: ", links))
    return out


def _block(view: SampleView, block, image_src: ImageSrc) -> Markup:
    if block.kind == "text":
        return el("div", {"class": "text"}, block.text)
    if block.kind == "mark":
        return el("div", {}, el("span", {"class": "mark"}, block.text))
    im = block.image
    if block.kind == "missing":
        return el("figure", {"class": "img missing"},
                  el("div", {}, f"image not kept ({block.text or 'dropped'})"), _caption(im))
    src = image_src(view, im) if im.content_type else None
    picture = (el("img", {"src": src, "alt": im.alt, "loading": "lazy", "data-position": im.position})
               if src else el("div", {"class": "noimg"}, "not shown"))
    return el("figure", {"class": "img", "data-member": im.member}, picture, _caption(im))


def _caption(im: ImageView) -> Markup:
    bits: list = []
    if im.position >= 0:
        bits.append(el("b", {}, f"#{im.position}"))
    if im.width and im.height:
        bits.append(f" · {im.width}×{im.height}")
    if im.nbytes:
        bits.append(f" · {im.nbytes / 1024:.1f} KB")
    if im.content_type:
        bits.append(f" · {im.content_type}")
    if im.alt:
        bits += [" · alt: “", el("bdi", {"class": "alt"}, im.alt), "”"]
    if im.url:
        bits += [el("br", {}), el("bdi", {"class": "url"}, im.url)]
    for note in im.notes:
        bits += [el("br", {}), el("span", {"class": "note"}, note)]
    return el("figcaption", {}, bits)


def excerpt(text: str, n: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def sample_card(view: SampleView, *, image_src: ImageSrc, href: str | None = None, max_images: int = 5) -> Markup:
    """A small card for galleries: thumbnails, key, source, an excerpt."""
    thumbs = []
    for im in view.images[:max_images]:
        src = image_src(view, im) if im.content_type else None
        thumbs.append(el("img", {"src": src, "alt": im.alt}) if src else el("span", {"class": "noimg"}, "no image"))
    for b in view.blocks:
        if b.kind == "missing" and len(thumbs) < max_images:
            thumbs.append(el("span", {"class": "noimg", "title": b.image.url}, f"not kept: {b.text or 'image'}"))
    title = el("a", {"href": href}, view.key) if href else el("span", {}, view.key)
    return el("div", {"class": "card"}, el("div", {"class": "thumbs"}, thumbs),
              el("div", {"class": "key"}, title),
              el("div", {"class": "url"}, el("bdi", {}, view.url)),
              el("div", {"class": "excerpt"}, excerpt(view.text)))


# ---------------------------------------------------------------------------- served pages


def home(catalog: Catalog) -> str:
    rows = []
    for s in catalog.shards:
        rows.append(el("tr", {}, el("td", {}, el("a", {"href": url("/shard", s=s.index)}, el("bdi", {}, s.name))),
                       el("td", {}, s.kind or "?"),
                       el("td", {"class": "num"}, "?" if s.samples is None else f"{s.samples:,}"),
                       el("td", {"class": "url"}, el("bdi", {}, s.path))))
    body = [el("h1", {}, f"{len(catalog.shards)} shards"),
            el("table", {"class": "rows"},
               el("tr", {}, el("th", {}, "shard"), el("th", {}, "kind"), el("th", {"class": "num"}, "samples"),
                  el("th", {}, "path")), rows)]
    return document("flamingo view", body)


def row_facts(members: dict[str, bytes]) -> dict:
    """What a list row shows beyond the index: a text excerpt, a dropped sample's reason."""
    from pipeline.view.catalog import searchable_text

    facts = {"excerpt": excerpt(searchable_text({k: v for k, v in members.items() if k in ("json", "txt")}), 200)}
    try:
        meta = json.loads(members.get("json", b"{}"))
        dropped = meta.get("extra", {}).get("dropped") if isinstance(meta, dict) else None
        if isinstance(dropped, dict):
            facts["dropped"] = f"{dropped.get('stage')}/{dropped.get('reason')}"
    except (ValueError, AttributeError):
        pass
    return facts


def _row_cells(i: int, row: dict) -> list[Markup]:
    key = row.get("key") or ""
    has_images = (row.get("num_images") or 0) > 0 or "caption" in row or row.get("num_images") is None
    thumb = el("img", {"src": url("/thumb", s=i, k=key), "alt": "", "loading": "lazy"}) if has_images else ""
    facts = row.get("facts") or {}
    if facts.get("dropped"):
        what = [el("span", {"class": "badge dropped"}, facts["dropped"])]
    elif row.get("num_tokens") is not None:
        what = [el("span", {"class": "badge"}, f"{row['num_tokens']} tok"),
                el("span", {"class": "badge"}, f"{row.get('num_images') or 0} img")]
        if row.get("doc_id"):
            what.append(el("span", {"class": "muted"}, f"seq {row.get('seq_index')}"))
    else:
        what = []
    text = facts.get("excerpt") or excerpt(row.get("caption") or "", 200)
    return [el("td", {"class": "thumb"}, thumb),
            el("td", {}, el("a", {"class": "key", "href": url("/sample", s=i, k=key)}, key),
               el("div", {"class": "url"}, el("bdi", {}, row.get("url") or "")),
               el("div", {"class": "excerpt"}, text) if text else None),
            el("td", {"class": "what"}, what)]


def _rows_table(rows: list[tuple[int, dict]], catalog: Catalog, with_shard: bool) -> Markup:
    head = [el("th", {}, ""), el("th", {}, "sample and source"), el("th", {}, "")]
    if with_shard:
        head.append(el("th", {}, "shard"))
    body = []
    for i, row in rows:
        cells = _row_cells(i, row)
        if with_shard:
            cells.append(el("td", {}, el("a", {"href": url("/shard", s=i)}, el("bdi", {}, catalog.shards[i].name))))
        body.append(el("tr", {}, cells))
    return el("table", {"class": "rows", "id": "rows"}, el("tr", {}, head), body)


def shard_page(catalog: Catalog, i: int, page: int, per_page: int = PER_PAGE) -> str:
    shard, table = catalog.shards[i], catalog.table(i)
    pages = max(1, -(-len(table) // per_page))
    page = min(max(page, 0), pages - 1)
    first, stop = page * per_page, min(len(table), (page + 1) * per_page)
    peeked = catalog.peek(i, first, stop)
    rows = [(i, {**table.row(r), "facts": row_facts(peeked.get(r, {}))}) for r in range(first, stop)]
    nav = _pager(lambda p: url("/shard", s=i, page=p), page, pages)
    body = [el("h1", {}, el("bdi", {}, shard.name), " ", el("span", {"class": "badge kind"}, shard.kind or "?")),
            el("p", {"class": "muted"}, f"{len(table):,} samples · rows from the {table.source}"),
            el("form", {"action": "/search", "method": "get", "role": "search"},
               el("input", {"type": "hidden", "name": "s", "value": i}),
               el("input", {"type": "search", "name": "q", "placeholder": "search this shard: URL or text",
                            "aria-label": "search this shard"}),
               el("button", {"type": "submit"}, "Search shard"))]
    if table.problems:
        body.append(el("ul", {"class": "problems"}, [el("li", {}, p) for p in table.problems]))
    body += [nav, _rows_table(rows, catalog, with_shard=False), nav]
    return document(f"{shard.name} · page {page + 1}", body, crumbs=el("bdi", {}, shard.name))


def _pager(href: Callable[[int], str], page: int, pages: int) -> Markup:
    def link(p: int, text: str) -> Markup:
        return el("a", {"href": href(p), "rel": text}, text) if 0 <= p < pages and p != page else \
            el("span", {"class": "muted"}, text)

    return el("nav", {"class": "pager"}, link(0, "first"), link(page - 1, "prev"),
              el("span", {"class": "here"}, f"page {page + 1} of {pages}"), link(page + 1, "next"),
              link(pages - 1, "last"))


def search_page(catalog: Catalog, query: str, shard: int | None, start: tuple[int, int]) -> str:
    shards = [shard] if shard is not None else [s.index for s in catalog.shards]
    found, more = catalog.search(query, shards, start) if query else ([], None)
    where = f"in {catalog.shards[shard].name}" if shard is not None else f"in {len(shards)} shards"
    count = f"{len(found)}{'+' if more else ''} sample{'' if len(found) == 1 and not more else 's'}"
    body = [el("h1", {}, f"{count} matching “", el("bdi", {}, query), f"” {where}")]
    if found:
        body.append(_rows_table(found, catalog, with_shard=shard is None))
    if more:
        body.append(el("nav", {"class": "pager"},
                       el("a", {"href": url("/search", q=query, s=shard, start=f"{more[0]}.{more[1]}"),
                                "rel": "next"}, "more results")))
    return document(f"search: {query}", body, crumbs=Markup("search"), search=query)


def sample_page(catalog: Catalog, i: int, view: SampleView, per_page: int = PER_PAGE) -> str:
    table = catalog.table(i)
    row = table.by_key.get(view.key, 0)
    per = per_page
    nav = el("nav", {"class": "pager"},
             el("a", {"href": url("/shard", s=i, page=row // per)}, f"back to {catalog.shards[i].name}"),
             el("a", {"href": url("/sample", s=i, k=table.columns["key"][row - 1]), "rel": "prev"}, "prev sample")
             if row > 0 else None,
             el("a", {"href": url("/sample", s=i, k=table.columns["key"][row + 1]), "rel": "next"}, "next sample")
             if row + 1 < len(table) else None)
    article = render_sample(view, image_src=lambda v, im: url("/media", s=i, k=v.key, m=im.member),
                            shard_name=catalog.shards[i].name, siblings=catalog.siblings(view.doc_id),
                            sibling_href=lambda s, k: url("/sample", s=s, k=k), shard_index=i)
    crumbs = [el("a", {"href": url("/shard", s=i, page=row // per)}, el("bdi", {}, catalog.shards[i].name)),
              " / ", el("span", {"class": "key"}, view.key)]
    return document(f"sample {view.key}", [nav, article, nav], crumbs=el("span", {}, crumbs))


def message_page(title: str, text: str) -> str:
    return document(title, [el("h1", {}, title), el("p", {}, text)])
