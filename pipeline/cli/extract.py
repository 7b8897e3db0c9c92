"""`flamingo extract PAGE.html --url URL`: show what extraction keeps from a page.

Prints the document for a person (text blocks with ``[image WxH URL alt="…"]``
markers where images stand) or ``--json`` for machines. Users debug
extraction with it, so a dropped page prints its reason and exits 1.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from flamingo.typedconfig import ArgumentParser, UsageError, add_flags, config, resolve, section
from pipeline.extract.page import ExtractOptions

SUMMARY = "show what extraction keeps of one HTML page"

# Terminal control characters from a hostile page must not reach the user's terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def image_marker(img) -> str:
    """``[image WxH URL alt="…"]``, WxH omitted when undeclared."""
    size = f"{img.width}x{img.height} " if img.width and img.height else ""
    alt = f' alt="{img.alt}"' if img.alt else ""
    return f"[image {size}{img.url}{alt}]"


def render(doc) -> str:
    from pipeline.document import ImageNode

    head = [f"# {doc.title}" if doc.title else "# (no title)", f"url: {doc.url}"]
    if doc.canonical_url:
        head.append(f"canonical: {doc.canonical_url}")
    head.append(f"lang: {doc.lang or '-'}  opt-out: {','.join(sorted(doc.opt_out)) or '-'}")
    if doc.dropped_images:
        drops = ", ".join(f"{k}={v}" for k, v in sorted(doc.dropped_images.items()))
        head.append(f"dropped images: {drops}")
    body = [image_marker(n) if isinstance(n, ImageNode) else n.text for n in doc.nodes]
    return _CONTROL.sub("\ufffd", "\n".join(head) + "\n\n" + "\n\n".join(body) + "\n")


@config
class ExtractCommandConfig:
    extract: ExtractOptions = section(ExtractOptions)


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="flamingo extract", description=__doc__.split("\n\n")[0])
    p.add_argument("page", help="HTML file ('-' for stdin)")
    p.add_argument("--url", help="the page's address (resolves relative image URLs)")
    p.add_argument("--charset", help="charset from the HTTP header, if known")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    add_flags(p, ExtractCommandConfig)
    return p


def read_page(page: str, limit: int) -> bytes:
    """The page's bytes, at most ``limit + 1`` of them (extraction refuses bigger pages anyway)."""
    if page == "-":
        return sys.stdin.buffer.read(limit + 1)
    try:
        with open(page, "rb") as f:
            return f.read(limit + 1)
    except FileNotFoundError:
        raise UsageError(f"{page}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{page} is a directory", "give one HTML file") from None
    except OSError as e:
        raise UsageError(f"{page}: cannot read it ({e.strerror})") from None


def main(argv: list[str]) -> int:
    from pipeline.extract import extract_with_reason

    args = parser().parse_args(argv)
    options = resolve(ExtractCommandConfig, args).extract
    data = read_page(args.page, options.max_input_bytes)
    url = args.url or (Path(args.page).resolve().as_uri() if args.page != "-" else "stdin:")
    doc, reason = extract_with_reason(data, url, http_charset=args.charset, options=options)
    if doc is None:
        if args.json:
            print(json.dumps({"url": url, "dropped": reason}))
        else:
            print(f"no document: {reason}", file=sys.stderr)
        return 1
    print(json.dumps(doc.to_json(), ensure_ascii=False, indent=2) if args.json else render(doc), end="")
    if args.json:
        print()
    return 0
