"""OBELICS documents (parquet) -> Documents. No Beam here.

OBELICS (Laurençon et al. 2023, huggingface.co/datasets/HuggingFaceM4/OBELICS) stores one
document per row: ``texts`` and ``images`` are lists of the same length, and at each position
exactly one of the two is set (a paragraph, or an image URL), in reading order;
``general_metadata`` is a JSON string with the page's ``url``; ``metadata`` is a JSON list with
one object per position (``alt_text`` for images). Rows are read a row group at a time, so a
file of any size streams, and the job splits files by row group.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO

from pipeline.document import Document, ImageNode, TextBlock
from pipeline.shards.layouts import OBELICS_COLUMNS as COLUMNS
from pipeline.shards.layouts import is_obelics_columns

OPTIONAL = ("metadata",)
MAGIC = b"PAR1"


def has_schema(names: list[str]) -> bool:
    """Whether a parquet file's columns are OBELICS's."""
    return is_obelics_columns(names)


def to_document(row: dict) -> tuple[Document | None, str]:
    """One OBELICS row -> ``(document or None, reason)``."""
    texts, images = row.get("texts"), row.get("images")
    if not isinstance(texts, list) or not isinstance(images, list) or len(texts) != len(images):
        return None, "obelics_malformed"
    general = _json(row.get("general_metadata"))
    url = general.get("url") if isinstance(general, dict) else None
    if not isinstance(url, str) or not url:
        return None, "obelics_no_url"
    meta = _json(row.get("metadata"))
    meta = meta if isinstance(meta, list) and len(meta) == len(texts) else [None] * len(texts)
    nodes: list = []
    for text, image, m in zip(texts, images, meta):
        if isinstance(image, str) and image:
            alt = m.get("alt_text") if isinstance(m, dict) else None
            nodes.append(ImageNode(url=image, alt=alt if isinstance(alt, str) else ""))
        elif isinstance(text, str) and text.strip():
            nodes.append(TextBlock(text.strip()))
    return Document(url=url, nodes=nodes), "ok"


def row_groups(f: IO[bytes]) -> int:
    """Row groups of an OBELICS parquet file; 0 when the file is parquet but not OBELICS."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(f)
    return pf.num_row_groups if has_schema(pf.schema_arrow.names) else 0


def iter_rows(f: IO[bytes], start: int, end: int) -> Iterator[dict]:
    """Rows of row groups ``[start, end)``, one row group in memory at a time."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(f)
    columns = [c for c in (*COLUMNS, *OPTIONAL) if c in pf.schema_arrow.names]
    for group in range(start, min(end, pf.num_row_groups)):
        yield from pf.read_row_group(group, columns=columns).to_pylist()


def _json(value):
    if isinstance(value, (dict, list)):
        return value
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return None
