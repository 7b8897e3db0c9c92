"""What ``flamingo view`` knows of a set of shards: their rows, where each sample lies, and the
samples themselves, read one at a time.

A shard is never read whole. Its rows come from the parquet index beside it (a few columns,
kept in memory: the index, not the data); a sample is read by seeking to its place in the tar
(``tar_offset``/``tar_size``). A shard without those columns (written before they existed,
or by img2dataset) has its tar headers scanned once, seeking past member data, and the places
kept; a shard without any index is listed from that scan (its small ``json``/``txt`` members
are read on the way). An index that does not match its tar is noticed on the first read
(:class:`~pipeline.view.tarseek.StaleIndex`) and replaced by a scan.

Thread-safe: the viewer's HTTP server reads from several threads. No Beam, no torch.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO

from pipeline.shards import format as sf
from pipeline.shards import index as shard_index
from pipeline.shards import manifest, reader
from pipeline.view import tarseek

# Index columns the viewer uses, when a shard's index has them.
COLUMNS = ("key", "url", "doc_id", "seq_index", "num_tokens", "num_images", "image_urls", "image_alts",
           "caption", "width", "height", "page_url", shard_index.OFFSET_COLUMN, shard_index.SIZE_COLUMN)
TEXT_CACHE_CHARS = 32 << 20  # searchable text kept in memory, all shards together
SAMPLE_CACHE_BYTES = 64 << 20  # recently read samples (a page's images come right after it)


@dataclass
class Shard:
    index: int
    path: str
    name: str
    kind: str | None = None  # from its manifest, when it has one
    samples: int | None = None


@dataclass
class Table:
    """The rows of one shard: index columns as lists (all the same length) and places."""

    columns: dict[str, list]
    offsets: list[int]
    sizes: list[int]
    source: str  # "index", "index+scan" or "scan"
    problems: list[str] = field(default_factory=list)
    by_key: dict[str, int] = field(default_factory=dict)
    haystack: list[str] = field(default_factory=list)  # casefolded index text per row
    texts: list[str | None] = field(default_factory=list)  # casefolded sample text, filled by searches

    def __post_init__(self) -> None:
        keys = self.columns["key"]
        for i in reversed(range(len(keys))):
            self.by_key[keys[i]] = i
        if len(self.by_key) != len(keys):
            self.problems.append(f"{len(keys) - len(self.by_key)} keys appear more than once")
        fields = [c for c in ("key", "url", "doc_id", "caption", "page_url") if c in self.columns]
        lists = [c for c in ("image_urls", "image_alts") if c in self.columns]
        self.haystack = [
            "\n".join([*(_text(self.columns[c][i]) for c in fields),
                       *(_text(v) for c in lists for v in (self.columns[c][i] or []))]).casefold()
            for i in range(len(keys))
        ]
        self.texts = [None] * len(keys)

    def __len__(self) -> int:
        return len(self.columns["key"])

    def row(self, i: int) -> dict:
        return {"row": i, **{c: v[i] for c, v in self.columns.items()}}


def _text(v) -> str:
    return v if isinstance(v, str) else "" if v is None else str(v)


def display_names(paths: list[str]) -> list[str]:
    """Each path's file name, with as many parent folders as it takes to tell them apart
    (``corpus/dropped/dropped-00000.tar`` beside ``pairs/dropped/dropped-00000.tar``)."""
    parts = [p.rstrip("/").split("/") for p in paths]
    out = []
    for mine in parts:
        depth = 1
        while depth < len(mine) and sum(other[-depth:] == mine[-depth:] for other in parts) > 1:
            depth += 1
        out.append("/".join(mine[-depth:]))
    return out


def sibling_path(tar_path: str, suffix: str) -> str:
    base = tar_path[: -len(manifest.TAR_SUFFIX)] if tar_path.endswith(manifest.TAR_SUFFIX) else tar_path
    return base + suffix


class Catalog:
    """Shards by number (their order on the command line, expanded), their tables (loaded on
    first use) and a small cache of recently read samples. ``opener`` opens a path for reading
    (seekable); the jobs pass theirs, which goes through Beam's filesystems."""

    def __init__(self, paths: Iterable[str], opener: Callable[[str], IO[bytes]] = reader.open_shard):
        paths = list(paths)
        self._open = opener
        self.shards = [Shard(i, p, n) for i, (p, n) in enumerate(zip(paths, display_names(paths)))]
        self._tables: dict[int, Table] = {}
        self._locks = [threading.Lock() for _ in self.shards]
        self._lock = threading.Lock()
        self._samples: OrderedDict[tuple[int, str], tarseek.Region] = OrderedDict()
        self._sample_bytes = 0
        self._text_chars = 0
        self._docs: dict[str, list[tuple[int, str, int]]] | None = None
        for shard in self.shards:
            self._read_manifest(shard)

    # ------------------------------------------------------------------------------ tables

    def _read_manifest(self, shard: Shard) -> None:
        try:
            with self._open(sibling_path(shard.path, manifest.MANIFEST_SUFFIX)) as f:
                entry = json.loads(f.read(1 << 20))
            shard.kind = entry.get("kind") if isinstance(entry.get("kind"), str) else None
            shard.samples = entry["samples"] if isinstance(entry.get("samples"), int) else None
        except (OSError, ValueError, AttributeError, sf.ShardFormatError):
            pass  # no manifest: an img2dataset shard, or one copied alone

    def table(self, i: int) -> Table:
        if i in self._tables:
            return self._tables[i]
        with self._locks[i]:
            if i not in self._tables:
                self._tables[i] = self._load(self.shards[i])
                self.shards[i].samples = len(self._tables[i])
        return self._tables[i]

    def _load(self, shard: Shard, *, distrust_index: bool = False) -> Table:
        problems: list[str] = []
        columns = None if distrust_index else _read_index(shard.path, problems, self._open)
        located = columns is not None and shard_index.OFFSET_COLUMN in columns and shard_index.SIZE_COLUMN in columns
        if located:
            offsets = [int(v) if isinstance(v, int) else -1 for v in columns.pop(shard_index.OFFSET_COLUMN)]
            sizes = [int(v) if isinstance(v, int) else -1 for v in columns.pop(shard_index.SIZE_COLUMN)]
            return Table(columns, offsets, sizes, "index", problems)
        with self._open(shard.path) as f:
            locations, tar_problems = tarseek.scan_locations(f, read_texts=columns is None)
        problems += tar_problems
        if columns is None:
            return _table_from_scan(locations, problems)
        # An index without places: its rows, placed by the scan.
        found = {}
        for loc in locations:
            found.setdefault(loc.key, loc)
        keys = columns["key"]
        missing = sum(1 for k in keys if k not in found)
        if missing:
            problems.append(f"{missing} samples of the index are not in the tar")
        extra = len(found.keys() - set(keys))
        if extra:
            problems.append(f"{extra} samples of the tar are not in the index")
        offsets = [found[k].offset if k in found else -1 for k in keys]
        sizes = [found[k].size if k in found else -1 for k in keys]
        return Table(columns, offsets, sizes, "index+scan", problems)

    def _rescan(self, i: int, why: str) -> Table:
        with self._locks[i]:
            table = self._load(self.shards[i], distrust_index=True)
            table.problems.insert(0, f"the parquet index does not match the tar ({why}); rows come from a scan")
            self._tables[i] = table
        return table

    # ----------------------------------------------------------------------------- samples

    def read(self, i: int, key: str) -> tarseek.Region:
        """Sample ``key`` of shard ``i`` (its members and any problems); KeyError if absent."""
        with self._lock:
            hit = self._samples.get((i, key))
            if hit is not None:
                self._samples.move_to_end((i, key))
                return hit
        table = self.table(i)
        try:
            region = self._read_row(i, table, table.by_key[key])
        except tarseek.StaleIndex as e:
            if table.source == "scan":
                raise
            table = self._rescan(i, str(e))
            region = self._read_row(i, table, table.by_key[key])
        self._remember(i, key, region)
        return region

    def _read_row(self, i: int, table: Table, row: int, want=lambda k, s, n: True) -> tarseek.Region:
        key, offset, size = table.columns["key"][row], table.offsets[row], table.sizes[row]
        if offset < 0:
            return tarseek.Region(key, problems=["this sample is in the index but not in the tar"])
        with self._open(self.shards[i].path) as f:
            return tarseek.read_region(f, offset, size, key, _file_size(f), want)

    def _remember(self, i: int, key: str, region: tarseek.Region) -> None:
        size = sum(len(v) for v in region.members.values())
        if size > SAMPLE_CACHE_BYTES // 4:
            return
        with self._lock:
            self._samples[(i, key)] = region
            self._sample_bytes += size
            while self._sample_bytes > SAMPLE_CACHE_BYTES:
                _, old = self._samples.popitem(last=False)
                self._sample_bytes -= sum(len(v) for v in old.members.values())

    # ----------------------------------------------------------------------------- search

    def search(self, query: str, shards: list[int], start: tuple[int, int] = (0, 0), limit: int = 50,
               max_rows: int = 200_000) -> tuple[list[tuple[int, dict]], tuple[int, int] | None]:
        """Rows whose URL, key, document id, caption, alt texts or text contain ``query``
        (case-insensitive), from ``start`` = (position in ``shards``, row) on; at most ``limit``
        of them and ``max_rows`` rows looked at. Returns them and where to go on (None: done)."""
        needle = query.casefold()
        found: list[tuple[int, dict]] = []
        looked = 0
        pos, row = start
        while pos < len(shards):
            i = shards[pos]
            table = self.table(i)
            f = None
            try:
                while row < len(table):
                    if len(found) >= limit or looked >= max_rows:
                        return found, (pos, row)
                    looked += 1
                    if needle in table.haystack[row]:
                        found.append((i, table.row(row)))
                    else:
                        if f is None:
                            f = self._open(self.shards[i].path)
                        if needle in self._sample_text(i, table, row, f):
                            found.append((i, table.row(row)))
                    row += 1
            finally:
                if f is not None:
                    f.close()
            pos, row = pos + 1, 0
        return found, None

    def _sample_text(self, i: int, table: Table, row: int, f: IO[bytes]) -> str:
        cached = table.texts[row]
        if cached is not None:
            return cached
        key, offset, size = table.columns["key"][row], table.offsets[row], table.sizes[row]
        text = ""
        if 0 <= offset and 0 < size <= tarseek.MAX_REGION_BYTES:
            members: dict[str, bytes] = {}
            for m in tarseek.walk(f, _small_text, offset, offset + size):
                if m.key != key:
                    break  # a stale index: the read of this sample will say so
                if m.data is not None:
                    members.setdefault(m.suffix, m.data)
                if m.suffix == "json" and b'"segments"' in members.get("json", b""):
                    break  # an interleaved sample's words are all in its json, its first member
            text = searchable_text(members).casefold()
        with self._lock:
            if self._text_chars + len(text) <= TEXT_CACHE_CHARS:
                table.texts[row] = text
                self._text_chars += len(text)
        return text

    def peek(self, i: int, start: int, stop: int) -> dict[int, dict[str, bytes]]:
        """The small ``json``/``txt`` members of rows ``start..stop-1`` (a list page), in one walk
        over their bytes (rows are contiguous in the tar), seeking past the images."""
        table = self.table(i)
        rows = [r for r in range(start, min(stop, len(table))) if table.offsets[r] >= 0]
        if not rows:
            return {}
        begin = min(table.offsets[r] for r in rows)
        end = max(table.offsets[r] + table.sizes[r] for r in rows)
        if end - begin > 64 * tarseek.MAX_REGION_BYTES:
            return {}
        by_offset = {table.offsets[r]: r for r in rows}
        out: dict[int, dict[str, bytes]] = {}
        current = None
        with self._open(self.shards[i].path) as f:
            for m in tarseek.walk(f, _small_text, begin, end):
                if m.offset in by_offset:
                    current = by_offset[m.offset]
                if current is None or m.key != table.columns["key"][current]:
                    current = None  # a row the index does not place here: leave it out
                    continue
                if m.data is not None:
                    out.setdefault(current, {}).setdefault(m.suffix, m.data)
        return out

    # ------------------------------------------------------------------------------ documents

    def siblings(self, doc_id: str) -> list[tuple[int, str, int]]:
        """Every sequence of document ``doc_id`` in the loaded shards: (shard, key, seq_index)."""
        if not doc_id:
            return []
        if self._docs is None:
            docs: dict[str, list[tuple[int, str, int]]] = {}
            for shard in self.shards:
                table = self.table(shard.index)
                ids, seqs = table.columns.get("doc_id"), table.columns.get("seq_index")
                if ids is None:
                    continue
                for r, d in enumerate(ids):
                    if isinstance(d, str) and d:
                        seq = seqs[r] if seqs is not None and isinstance(seqs[r], int) else 0
                        docs.setdefault(d, []).append((shard.index, table.columns["key"][r], seq))
            self._docs = docs
        return sorted(self._docs.get(doc_id, []), key=lambda t: (t[2], t[0], t[1]))

    def locate(self, key: str) -> int | None:
        """The first shard holding sample ``key``."""
        for shard in self.shards:
            if key in self.table(shard.index).by_key:
                return shard.index
        return None


def _small_text(key: str, suffix: str, size: int) -> bool:
    return suffix in ("json", "txt") and size <= tarseek.MAX_TEXT_MEMBER


def searchable_text(members: dict[str, bytes]) -> str:
    """The words of a sample a search should find: text segments and alt texts of an
    interleaved sample, a caption, any ``txt`` member."""
    parts = []
    if "txt" in members:
        parts.append(members["txt"].decode("utf-8", "replace"))
    try:
        meta = json.loads(members.get("json", b"{}"))
    except ValueError:
        meta = {}
    if isinstance(meta, dict):
        for seg in meta.get("segments") or []:
            if isinstance(seg, dict) and isinstance(seg.get("text"), str):
                parts.append(seg["text"])
        for im in meta.get("images") or []:
            if isinstance(im, dict) and isinstance(im.get("alt"), str):
                parts.append(im["alt"])
        if isinstance(meta.get("caption"), str):
            parts.append(meta["caption"])
    return "\n".join(parts)


def _file_size(f) -> int | None:
    try:
        return os.fstat(f.fileno()).st_size
    except (OSError, AttributeError, ValueError):  # fsspec files have no descriptor, but a size
        size = getattr(f, "size", None)
        return size if isinstance(size, int) else None


def _read_index(tar_path: str, problems: list[str], opener=reader.open_shard) -> dict[str, list] | None:
    """The viewer's columns of a shard's parquet index; None when it has none (or it cannot be
    used: the reason goes to ``problems``)."""
    import pyarrow.parquet as pq

    path = sibling_path(tar_path, manifest.INDEX_SUFFIX)
    if path == tar_path:
        return None
    try:
        f = opener(path)
    except (FileNotFoundError, sf.ShardFormatError):
        return None
    except OSError as e:
        problems.append(f"parquet index unreadable ({e}); rows come from a scan")
        return None
    try:
        with f:
            pfile = pq.ParquetFile(f)
            names = [c for c in COLUMNS if c in pfile.schema_arrow.names]
            if "key" not in names:
                problems.append("parquet index has no 'key' column; rows come from a scan")
                return None
            columns = pfile.read(columns=names).to_pydict()
    except Exception as e:  # noqa: BLE001 (pyarrow raises many types for a broken file)
        problems.append(f"parquet index unreadable ({type(e).__name__}: {e}); rows come from a scan")
        return None
    columns["key"] = [_text(k) for k in columns["key"]]
    return columns


def _table_from_scan(locations: list[tarseek.Location], problems: list[str]) -> Table:
    """Rows for a shard with no index, from its small members read during the scan."""
    columns: dict[str, list] = {c: [] for c in ("key", "url", "doc_id", "seq_index", "num_tokens", "num_images",
                                                "caption")}
    for loc in locations:
        try:
            meta = json.loads(loc.texts.get("json", b"{}"))
        except ValueError:
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        images = meta.get("images")
        columns["key"].append(loc.key)
        columns["url"].append(_text(meta.get("url")))
        columns["doc_id"].append(_text(meta.get("doc_id")))
        columns["seq_index"].append(meta.get("seq_index") if isinstance(meta.get("seq_index"), int) else None)
        columns["num_tokens"].append(meta.get("num_tokens") if isinstance(meta.get("num_tokens"), int) else None)
        columns["num_images"].append(len(images) if isinstance(images, list) else None)
        caption = loc.texts["txt"].decode("utf-8", "replace") if "txt" in loc.texts else meta.get("caption")
        columns["caption"].append(_text(caption)[:2000])
        loc.texts = {}  # read what we need; keep no sample data
    return Table(columns, [loc.offset for loc in locations], [loc.size for loc in locations], "scan", problems)
