"""MMC4 documents (``.jsonl``, ``.jsonl.gz``, ``.jsonl.zip``) -> Documents. No Beam here.

MMC4 (Zhu et al. 2023, github.com/allenai/mmc4) stores one document per JSON line::

    {"url": ..., "text_list": [sentence, ...],
     "image_info": [{"raw_url": ..., "matched_text_index": i, "matched_sim": 0.27, ...}, ...],
     "similarity_matrix": [[...per sentence...] per image], ...}

MMC4 does not say where an image stood on the page, only which sentence it matches best
(CLIP similarity, assigned one-to-one). We place each image *before* the sentence it is
matched to, as OpenFlamingo does when it trains on MMC4 (``<image>sentence``: the text after an
image is the text conditioned on it). Images below ``min_similarity`` (``matched_sim``, MMC4's
CLIP cosine units) are dropped and counted. The images themselves are fetched later by the job's
safe image stage, like any page's images.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from collections.abc import Iterator
from typing import IO

from pipeline.document import Document, ImageNode, TextBlock
from pipeline.shards.layouts import is_mmc4_document

MAX_LINE_BYTES = 64 << 20  # one document; MMC4's largest are a few MB


def looks_like(obj: object) -> bool:
    """Whether a parsed JSON line is an MMC4 document."""
    return is_mmc4_document(obj)


def to_document(obj: dict, *, min_similarity: float = 0.0) -> tuple[Document | None, str, dict[str, int]]:
    """One MMC4 record -> ``(document or None, reason, images dropped by reason)``."""
    url = obj.get("url") if isinstance(obj, dict) else None
    if not looks_like(obj) or not isinstance(url, str) or not url:
        return None, "mmc4_malformed", {}
    sentences = [s if isinstance(s, str) else "" for s in obj["text_list"]]
    before: dict[int, list[ImageNode]] = {}
    drops: dict[str, int] = {}
    for info in obj["image_info"]:
        reason = _image_problem(info, len(sentences), min_similarity)
        if reason:
            drops[reason] = drops.get(reason, 0) + 1
            continue
        before.setdefault(info["matched_text_index"], []).append(ImageNode(url=info["raw_url"]))
    nodes: list = []
    for i, sentence in enumerate(sentences):
        nodes += before.get(i, [])
        if sentence.strip():
            nodes.append(TextBlock(sentence.strip()))
    return Document(url=url, nodes=nodes), "ok", drops


def _image_problem(info: object, n_sentences: int, min_similarity: float) -> str | None:
    if not isinstance(info, dict) or not isinstance(info.get("raw_url"), str) or not info["raw_url"]:
        return "mmc4_image_without_url"
    index = info.get("matched_text_index")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n_sentences:
        return "mmc4_image_without_sentence"
    sim = info.get("matched_sim")
    if isinstance(sim, (int, float)) and sim < min_similarity:
        return "mmc4_image_below_similarity"
    return None


def open_lines(f: IO[bytes]) -> Iterator[bytes]:
    """The JSON lines of a ``.jsonl``, gzip or zip file (every member of a zip, by name). A line
    over ``MAX_LINE_BYTES`` is skipped without being held (``b""``: counted as malformed)."""
    for stream in _streams(f):
        while line := stream.readline(MAX_LINE_BYTES + 1):
            if len(line) > MAX_LINE_BYTES:
                while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                    pass
                yield b""
            elif line.strip():
                yield line


def first_line(f: IO[bytes], limit: int = 1 << 20) -> bytes:
    """At most ``limit`` bytes of the first line (for recognising a file without reading it all)."""
    for stream in _streams(f):
        return stream.readline(limit)
    return b""


def _streams(f: IO[bytes]) -> Iterator[IO[bytes]]:
    head = f.read(4)
    f.seek(0)
    if head[:2] == b"\x1f\x8b":
        yield gzip.GzipFile(fileobj=f)
    elif head == b"PK\x03\x04":
        with zipfile.ZipFile(f) as z:
            for name in sorted(n for n in z.namelist() if not n.endswith("/")):
                with z.open(name) as member:
                    yield member
    else:
        yield f


def parse_line(line: bytes) -> dict | None:
    try:
        obj = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return obj if isinstance(obj, dict) else None
