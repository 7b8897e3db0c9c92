"""Records that are not good HTML pages, so that a corpus job's "dropped by reason" counters have
something to count: a 404, two redirects, a PDF and a JSON response. (The truncated record is
written by the builder, last.)
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.samplecrawl.sites import GAZETTE, KITCHEN, STARS

NOT_FOUND_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Page not found | Harbour Gazette</title></head>
<body><h1>Sorry, we couldn't find that page</h1><p>The story you are looking for may have been
moved or deleted. Try our <a href="/search">search</a> or go back to the
<a href="/">home page</a>.</p></body></html>
"""

# A one-page PDF, as small as a real writer would emit (fixed, so the bytes are stable).
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R>>endobj\n"
       b"4 0 obj<</Length 44>>stream\nBT /F1 18 Tf 72 770 Td (Club newsletter) Tj ET\n"
       b"endstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")

JSON = (b'{"town":"Harbour","updated":"2024-06-01T08:00:00Z","forecast":[{"day":"Sat",'
        b'"high":18,"low":11,"summary":"Sunny spells"},{"day":"Sun","high":16,"low":10,'
        b'"summary":"Showers"}]}')


@dataclass(frozen=True)
class Oddity:
    url: str
    body: bytes
    content_type: str
    status: int = 200
    location: str = ""


def oddities() -> list[Oddity]:
    g, k = GAZETTE.origin, KITCHEN.origin
    return [
        Oddity(f"{g}/news/2023/11/old-ferry-timetable", NOT_FOUND_HTML.encode(),
               "text/html; charset=utf-8", 404),
        Oddity(f"{g}/news/latest", b"", "text/html; charset=utf-8", 301, location=f"{g}/"),
        Oddity(k.replace("https://", "http://") + "/recipes/affogato/", b"",
               "text/html; charset=utf-8", 301, location=f"{k}/recipes/affogato/"),
        Oddity(f"{STARS.origin}/files/newsletter-2024-05.pdf", PDF, "application/pdf"),
        Oddity(f"{g}/api/v1/weather?town=harbour", JSON, "application/json"),
    ]
