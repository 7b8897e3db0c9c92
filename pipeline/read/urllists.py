"""URL + caption lists (CC3M, LAION, DataComp metadata): parquet, CSV, TSV or JSONL.

Rows are read in chunks so a Beam worker can read one chunk of one file (a parquet
row group; a CSV/TSV/JSONL file is one chunk, since its rows have no index to seek
to) and nothing ever holds a whole list in memory. Column names are configurable
like img2dataset's ``url_col``/``caption_col``/``save_additional_columns``. No Beam here.

Each row gets a stable key from the file's label and its row number: the label is the base
name, so the same list read from another directory or by another runner gives the same keys,
shards and bytes; where two inputs share a base name (``a/list.csv``, ``b/list.csv``), it is
the shortest end of their paths that tells them apart (:func:`file_labels`), so keys stay
unique. Files are opened with the ``opener`` the caller gives (the Beam layer passes Beam's
filesystems, so ``gs://`` and ``s3://`` lists are read with the job's own options); without
one, local paths are opened directly. ``.gz`` lists are decompressed as they stream.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from flamingo.typedconfig import config, opt, require
from pipeline.shards.format import make_key

FORMATS = ("parquet", "csv", "tsv", "jsonl")


@config
class UrlListConfig:
    input_format: str = opt("auto", "list format; auto: from the file name", choices=("auto", *FORMATS))
    url_col: str = opt("url", "column holding the image URL (img2dataset's url_col)")
    caption_col: str = opt("caption", "column holding the caption; '' for a list without captions")
    save_additional_columns: tuple[str, ...] = opt((), "columns copied into each pair's JSON")

    def validate(self) -> None:
        require(self.url_col != "", "url_col", "must name a column")


@dataclass
class UrlRow:
    key: str
    url: str
    caption: str
    extra: dict
    error: str = ""  # snake_case reason when the row could not be read (counted, skipped)


def detect_format(path: str, declared: str = "auto") -> str:
    if declared != "auto":
        return declared
    name = path.lower().removesuffix(".gz")
    for ext, fmt in ((".parquet", "parquet"), (".csv", "csv"), (".tsv", "tsv"),
                     (".jsonl", "jsonl"), (".json", "jsonl")):
        if name.endswith(ext):
            return fmt
    raise ValueError(f"cannot tell the format of {path!r}; pass --list.input_format")


Opener = Callable[[str], IO[bytes]]


def _open(path: str, opener: Opener | None = None) -> IO[bytes]:
    raw = opener(path) if opener is not None else open(path, "rb")
    if path.lower().endswith(".gz"):
        import gzip

        return gzip.GzipFile(fileobj=raw, mode="rb")
    return raw


def chunks(path: str, config: UrlListConfig, opener: Opener | None = None) -> list[int]:
    """Chunk ids of one file: parquet row groups, else a single chunk 0."""
    if detect_format(path, config.input_format) != "parquet":
        return [0]
    import pyarrow.parquet as pq

    with _open(path, opener) as f:
        return list(range(pq.ParquetFile(f).num_row_groups)) or [0]


def file_labels(paths: list[str]) -> dict[str, str]:
    """Each input file's label in its rows' keys: its base name, unless another input has the
    same one; then the fewest trailing path parts that make it unique."""
    parts = {p: p.rstrip("/").split("/") for p in paths}
    labels = {}
    for path, ps in parts.items():
        n = 1
        while n < len(ps) and any(q != path and qs[-n:] == ps[-n:] for q, qs in parts.items()):
            n += 1
        labels[path] = "/".join(ps[-n:])
    return labels


def read_chunk(path: str, chunk: int, config: UrlListConfig, label: str | None = None,
               opener: Opener | None = None) -> Iterator[UrlRow]:
    """The rows of one chunk, with stable keys from ``label`` (default: the file's base name);
    rows with no URL are skipped by the caller."""
    fmt = detect_format(path, config.input_format)
    base = label or os.path.basename(path.rstrip("/"))
    records, first = _records(path, fmt, chunk, config, opener)
    for i, rec in enumerate(records):
        if isinstance(rec, str):  # a line that could not be read: its reason
            yield UrlRow(key=make_key(base, first + i), url="", caption="", extra={}, error=rec)
            continue
        yield _row(base, first + i, rec, config)


def read_rows(path: str, config: UrlListConfig, label: str | None = None,
              opener: Opener | None = None) -> Iterator[UrlRow]:
    for chunk in chunks(path, config, opener):
        yield from read_chunk(path, chunk, config, label, opener)


def _columns(config: UrlListConfig) -> list[str]:
    cols = [config.url_col, *([config.caption_col] if config.caption_col else [])]
    return cols + [c for c in config.save_additional_columns if c not in cols]


def _records(path: str, fmt: str, chunk: int, config: UrlListConfig,
             opener: Opener | None) -> tuple[Iterator[dict], int]:
    """(records of the chunk, row number of its first record in the file)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with _open(path, opener) as f:
            pf = pq.ParquetFile(f)
            if pf.num_row_groups == 0:
                return iter(()), 0
            first = sum(pf.metadata.row_group(g).num_rows for g in range(chunk))
            missing = [c for c in _columns(config) if c not in pf.schema_arrow.names]
            if missing:
                raise ValueError(f"{path}: no column(s) {missing}; it has {pf.schema_arrow.names}")
            rows = pf.read_row_group(chunk, columns=_columns(config)).to_pylist()
        return iter(rows), first
    if fmt == "jsonl":
        return _jsonl(path, opener), 0
    return _delimited(path, "\t" if fmt == "tsv" else ",", opener), 0


def _jsonl(path: str, opener: Opener | None) -> Iterator[dict | str]:
    """Records, or the reason (``bad_json_line``) for a line that is not a JSON object:
    one broken line of a huge list is counted, not fatal. Undecodable bytes are replaced."""
    with _open(path, opener) as f:
        for line in io.TextIOWrapper(f, encoding="utf-8", errors="replace"):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                yield "bad_json_line"
                continue
            yield rec if isinstance(rec, dict) else "bad_json_line"


def _delimited(path: str, delimiter: str, opener: Opener | None) -> Iterator[dict]:
    with _open(path, opener) as f:
        text = io.TextIOWrapper(f, encoding="utf-8", errors="replace", newline="")
        yield from csv.DictReader(text, delimiter=delimiter)


def _row(base: str, index: int, rec: dict, config: UrlListConfig) -> UrlRow:
    url = rec.get(config.url_col)
    caption = rec.get(config.caption_col) if config.caption_col else ""
    extra = {c: _json_safe(rec.get(c)) for c in config.save_additional_columns}
    return UrlRow(
        key=make_key(base, index),
        url=str(url).strip() if url is not None else "",
        caption="" if caption is None else str(caption),
        extra=extra,
    )


def _json_safe(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return str(value)
