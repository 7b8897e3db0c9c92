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


def run(args: argparse.Namespace) -> int:
    from pipeline.extract import extract_with_reason

    data = sys.stdin.buffer.read() if args.page == "-" else Path(args.page).read_bytes()
    url = args.url or Path(args.page).resolve().as_uri()
    doc, reason = extract_with_reason(data, url, http_charset=args.charset)
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


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("extract", help="extract the main content of one HTML page")
    p.add_argument("page", help="HTML file ('-' for stdin)")
    p.add_argument("--url", help="the page's address (resolves relative image URLs)")
    p.add_argument("--charset", help="charset from the HTTP header, if known")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)
