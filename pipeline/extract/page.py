"""HTML page -> clean interleaved Document: the project's extraction entry point.

``extract_document(html, url)`` returns the page's main content as ordered
text blocks and images with page metadata, or None; ``extract_with_reason``
also says why nothing was kept. Both never raise and cost is bounded: input
size is capped before decoding, libxml2 caps nesting depth, and every pass
over the tree is linear and iterative.

Pipeline: decode (charset) -> parse with lxml (dom) -> metadata (meta) ->
strip furniture (furniture, names; recording article markup) -> score the main
content (boilerplate, markup) -> widen it to the article around it (expand) ->
walk it into nodes (linearize, images) -> drop in-article noise (noise).

When that finds too little, or much less than the page's prose, a second method
takes over (``_select``; fallback): the page's prose blocks, a looser selection
on a fresh parse, or the schema.org articleBody. ``Document.method`` records
which one produced the document.
"""

from __future__ import annotations

import logging
from codecs import BOM_UTF8
from collections import Counter
from dataclasses import fields, replace

from lxml import etree

from flamingo.typedconfig import config, opt
from pipeline.document import Document, TextBlock
from pipeline.extract.boilerplate import main_content
from pipeline.extract.charset import decode_html
from pipeline.extract.dom import HtmlElement, ParseError, TextLengths, clean_tree, drop, parse_html
from pipeline.extract.expand import teaser_cards, widen
from pipeline.extract.fallback import graft_templates, schema_article_body
from pipeline.extract.furniture import remove_furniture
from pipeline.extract.linearize import Linearizer
from pipeline.extract.meta import DEFAULT_ROBOTS_NAMES, PageMeta, page_meta
from pipeline.extract.noise import clean_nodes

log = logging.getLogger(__name__)


@config
class ExtractOptions:
    # real article pages are < 2 MB; bigger is a trap or a dump
    max_input_bytes: int = opt(10_000_000, "largest page extracted (bytes); bigger ones are dropped", min=1)
    min_text_chars: int = opt(100, "a page with less main-content text than this is no document", min=0)
    max_link_density: float = opt(0.5, "a text block more link text than this is navigation", min=0.0, max=1.0)
    robots_names: frozenset[str] = opt(DEFAULT_ROBOTS_NAMES, "<meta name> values read for noai/noimageai opt-outs")
    include_captions: bool = opt(True, "keep figure captions as text blocks")
    remove_noise: bool = opt(True, "drop in-article noise: ad markers, read-more stubs, share and newsletter prompts, bylines, photo credits")


_DEFAULT_OPTIONS = ExtractOptions()


def _options(options: ExtractOptions | None, overrides: dict) -> ExtractOptions:
    """An ExtractOptions object, keyword overrides of its fields, or both."""
    if not overrides:  # the common call; dataclasses.replace costs ~1% of an extraction
        return options or _DEFAULT_OPTIONS
    known = {f.name for f in fields(ExtractOptions)}
    unknown = set(overrides) - known
    if unknown:
        raise TypeError(f"unknown extract options: {sorted(unknown)}")
    return replace(options or ExtractOptions(), **overrides)


# C0 controls other than tab, newline, form feed, carriage return (and ESC): text never has them.
_BINARY_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
_BINARY_DELETE = str.maketrans("", "", _BINARY_BYTES.decode("ascii"))


def _precheck(html: bytes | str, max_bytes: int) -> str | None:
    if not html or not html.strip():
        return "empty_input"
    if len(html) > max_bytes:  # str length in characters is close enough for a cap
        return "too_large"
    head = html[:4096]
    if isinstance(head, bytes):
        if head[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 has NULs in every other byte
            return None
        controls = len(head) - len(head.translate(None, _BINARY_BYTES))
    else:
        controls = len(head) - len(head.translate(_BINARY_DELETE))
    # Random bytes are ~10% controls; real pages have at most a stray one.
    return "not_html" if controls > max(2, len(head) // 100) else None


Content = tuple[list, Counter, int]  # nodes, image drop counts, images outside the content
# Main content holding less than this share of the prose on the (furniture-free) page missed
# most of the article: a box beside it won, or the page is a run of equal sections.
_MIN_PROSE_SHARE = 0.4
_COUNT_IMAGES = etree.XPath("count(.//img)")  # no element objects made, unlike iter()
_PROSE_CHECK_MARGIN = 1.5  # the scored paragraphs undercount list and loose prose


def _linearizer(base_url: str, opts: ExtractOptions) -> Linearizer:
    return Linearizer(base_url=base_url, max_link_density=opts.max_link_density)


def _finish(lin: Linearizer, all_images: int, opts: ExtractOptions) -> Content:
    nodes = lin.finish()
    if opts.remove_noise:
        nodes, _ = clean_nodes(nodes)
    if not opts.include_captions:
        nodes = [n for n in nodes if not (isinstance(n, TextBlock) and n.kind == "caption")]
    seen = sum(lin.dropped[k] for k in lin.dropped if k != "link_block") + len(lin.seen_urls)
    return nodes, lin.dropped, max(0, all_images - seen)


def _content(
    root: HtmlElement, base_url: str, opts: ExtractOptions, *, loose: bool, title: str = ""
) -> tuple[Content, HtmlElement | None, int]:
    """The main content, the furniture-free body it came from (None without a body), and
    the characters of paragraph text on the furniture-free page (see main_content).

    ``loose``: the fallback's selection, with furniture judged by tags and roles only."""
    clean_tree(root)
    body = root.find("body")
    if body is None:
        return ([], Counter(), 0), None, 0
    all_images = int(_COUNT_IMAGES(body))
    lengths = TextLengths()  # link lengths cached across the passes over this tree
    marks = remove_furniture(body, names=not loose)
    content, page_prose = main_content(body, lengths, marks, title)
    content = content or [body]
    lin = _linearizer(base_url, opts)
    for el, core in widen(content, lengths):
        lin.walk(el) if core else lin.walk_prose(el)
    return _finish(lin, all_images, opts), body, page_prose


def _page_prose(body: HtmlElement, base_url: str, opts: ExtractOptions) -> Content:
    """Every prose block of the furniture-free page, in order, teaser cards left out: a
    looser selection. Changes ``body``."""
    for card in teaser_cards(body):
        drop(card)
    return _prose_pass(body, base_url, opts)


def _prose_pass(body: HtmlElement, base_url: str, opts: ExtractOptions) -> Content:
    lin = _linearizer(base_url, opts)
    lin.walk_prose(body)
    return _finish(lin, int(_COUNT_IMAGES(body)), opts)


def _text_len(nodes: list) -> int:
    return sum(len(n.text) + 2 for n in nodes if isinstance(n, TextBlock))


def _select(
    source: bytes | str, root: HtmlElement, meta: PageMeta, opts: ExtractOptions
) -> tuple[str, Content]:
    """(method, content) of the first method that finds enough text (see Document.method):
    "main"; "page_prose" when main keeps under _MIN_PROSE_SHARE of the page's prose;
    "fallback" (a fresh parse, templates grafted, furniture by tags and roles only) when
    main finds too little; "schema_org" (JSON-LD articleBody) when that is twice as long
    as the best of them, or the only text. The longest result when none is enough."""
    main, body, page_prose = _content(root, meta.base_url, opts, loose=False, title=meta.title)
    best = "main", main
    main_len = _text_len(main[0])
    if main_len >= opts.min_text_chars:
        # Only when main is short beside the paragraphs that scored (counted while scoring,
        # a rougher measure than the prose pass: hence the margin) is that pass worth its cost.
        # Teaser cards only lower the page's prose: worth finding once it is clear that
        # main falls short with them counted.
        if main_len < _PROSE_CHECK_MARGIN * _MIN_PROSE_SHARE * page_prose \
                and main_len < _MIN_PROSE_SHARE * _text_len(
                    _prose_pass(body, meta.base_url, opts)[0]):
            prose = _page_prose(body, meta.base_url, opts)
            if main_len < _MIN_PROSE_SHARE * _text_len(prose[0]):
                best = "page_prose", prose
    else:
        loose_root = parse_html(source)
        graft_templates(loose_root)
        loose, _, _ = _content(loose_root, meta.base_url, opts, loose=True, title=meta.title)
        if _text_len(loose[0]) > main_len:
            best = "fallback", loose
    found = _text_len(best[1][0])
    # A script shorter than twice what we found cannot hold a body twice as long: skip parsing.
    ld_chars = sum(len(s) for s in meta.ld_json if "articleBody" in s)
    if ld_chars >= max(2 * found, opts.min_text_chars):
        paragraphs = schema_article_body(meta.ld_json)
        nodes = [TextBlock(text=p) for p in paragraphs]
        if _text_len(nodes) >= max(2 * found, opts.min_text_chars):
            best = "schema_org", (nodes, Counter(), 0)
    return best


def extract_with_reason(
    html: bytes | str,
    url: str,
    *,
    http_charset: str | None = None,
    options: ExtractOptions | None = None,
    **overrides,
) -> tuple[Document | None, str | None]:
    """(Document, None) or (None, snake_case reason). Never raises on any page input.

    ``options`` is an ExtractOptions; keyword ``overrides`` replace single fields of it.
    """
    opts = _options(options, overrides)
    reason = _precheck(html, opts.max_input_bytes)
    if reason:
        return None, reason
    try:
        text, charset = decode_html(html, http_charset)
        # Bytes already valid UTF-8 go to the parser as they are: re-encoding costs ~5%.
        utf8 = charset == "utf-8" and isinstance(html, bytes) and not html.startswith(BOM_UTF8)
        source = html if utf8 else text
        root = parse_html(source)
        meta = page_meta(root, url, opts.robots_names)
        method, (nodes, dropped, outside) = _select(source, root, meta, opts)
    except ParseError as exc:
        return None, exc.reason
    except (ValueError, TypeError, LookupError, RecursionError, MemoryError) as exc:
        # lxml and the codecs raise these on inputs we did not foresee; a bad page is a drop.
        log.debug("extraction failed for %s: %r", url, exc)
        return None, "extract_error"
    images = {k: v for k, v in dropped.items() if k != "link_block"}
    if outside:
        images["outside_main_content"] = outside
    doc = Document(url=url, nodes=nodes, title=meta.title, lang=meta.lang,
                   canonical_url=meta.canonical_url, opt_out=meta.opt_out, dropped_images=images,
                   method=method)
    if len(doc.text) < opts.min_text_chars:
        return None, "no_main_content"
    return doc, None


def extract_document(
    html: bytes | str,
    url: str,
    *,
    http_charset: str | None = None,
    options: ExtractOptions | None = None,
    **overrides,
) -> Document | None:
    """The page's main content as a Document, or None (see ``extract_with_reason``)."""
    return extract_with_reason(html, url, http_charset=http_charset, options=options, **overrides)[0]
