"""HTML built in Python with every string escaped: the viewer's and the report's one way to
write markup.

Shards come from the web, so every string in them is hostile until escaped: titles, alt
texts, text segments, URLs, keys. :func:`el` escapes every child that is not already
:class:`Markup` and every attribute value; attribute names come from our code only, and a
link or image address must be one the viewer made (a same-origin path, a fragment, or a
``data:image/...`` URI), so no page string can become an address a browser loads or runs.

Control and bidirectional-override characters (U+202E and friends, which can reorder what a
person reads) are shown as visible ``U+XXXX`` marks instead of acting, as ``flamingo
inspect`` does on the terminal.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from urllib.parse import urlencode

# C0/C1 controls (tab and newline kept), zero-width and directional marks, bidi embeddings,
# overrides and isolates.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_SAFE_ADDRESS = re.compile(r"^(/(?!/)|\?|#|data:image/(jpeg|png|webp|svg\+xml);base64,)")
_ADDRESS_ATTRS = {"href", "src", "action", "formaction", "srcset", "poster"}


class Markup(str):
    """HTML we wrote ourselves: inserted as it is."""


def esc(value: object) -> Markup:
    """Any value -> HTML text: escaped, control and bidi characters made visible."""
    if isinstance(value, Markup):
        return value
    text = html.escape("" if value is None else str(value), quote=True)
    return Markup(CONTROL.sub(lambda m: f'<span class="ctl">U+{ord(m.group()):04X}</span>', text))


def attr_text(value: object) -> str:
    """A value for an attribute: escaped, controls spelled out (no markup inside attributes)."""
    text = CONTROL.sub(lambda m: f"U+{ord(m.group()):04X}", "" if value is None else str(value))
    return html.escape(text, quote=True)


def el(tag: str, attrs: dict[str, object] | None = None, *children: object) -> Markup:
    """``<tag attrs>children</tag>``; children that are strings are escaped, lists flattened,
    None and False skipped. Void elements (img, input, meta, link, br) take no children."""
    if not _NAME.match(tag):
        raise ValueError(f"bad tag {tag!r}")
    parts = [f"<{tag}"]
    for name, value in (attrs or {}).items():
        name = name.rstrip("_").replace("_", "-")  # class_ -> class, data_x -> data-x
        if not _NAME.match(name) or name.startswith("on"):
            raise ValueError(f"attribute {name!r} is not one the viewer writes")
        if value is None or value is False:
            continue
        if value is True:
            parts.append(f" {name}")
            continue
        if name in _ADDRESS_ATTRS and not _SAFE_ADDRESS.match(str(value)):
            raise ValueError(f"{name}={str(value)[:40]!r}: only same-origin paths and data:image URIs")
        parts.append(f' {name}="{attr_text(value)}"')
    parts.append(">")
    if tag in ("img", "input", "meta", "link", "br", "hr", "col"):
        return Markup("".join(parts))
    parts += [str(c) for c in _flatten(children)]
    parts.append(f"</{tag}>")
    return Markup("".join(parts))


def _flatten(children: Iterable[object]) -> Iterable[Markup]:
    for c in children:
        if c is None or c is False:
            continue
        if isinstance(c, (list, tuple)):
            yield from _flatten(c)
        else:
            yield esc(c)


def join(items: Iterable[object], sep: str = "") -> Markup:
    return Markup(esc(sep).join(str(esc(i)) for i in items))


def url(path: str, **params: object) -> str:
    """A same-origin address with its query escaped: ``url("/sample", s=0, k=key)``."""
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError(f"not a same-origin path: {path!r}")
    query = urlencode({k: v for k, v in params.items() if v is not None and v != ""})
    return f"{path}?{query}" if query else path


def anchor_id(*parts: object) -> str:
    """An element id made of safe characters, for in-page links (``#s-KEY``)."""
    return "-".join(re.sub(r"[^0-9A-Za-z_-]", "_", str(p)) for p in parts)
