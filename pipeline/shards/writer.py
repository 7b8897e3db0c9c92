"""Atomic, deterministic shard writing: tar + parquet index + manifest entry.

A shard ``NAME`` becomes three files in the output directory, in this order:

* ``NAME.tar``            the samples, members in :func:`shardformat.encode` order;
* ``NAME.parquet``        one row per sample (the index);
* ``NAME.manifest.json``  sample count, bytes and sha256 of the tar — written last,
  so its presence means the shard is complete.

Each file is written under a temporary name in the same directory, fsynced and
renamed, so a crash or exception never leaves a finished-looking file. Tar headers
carry fixed mtimes, owners and modes: the same samples give byte-identical tars.
Imports neither Beam nor torch.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from pipeline.shards import format as sf

TAR_SUFFIX = ".tar"
INDEX_SUFFIX = ".parquet"
MANIFEST_SUFFIX = ".manifest.json"


@dataclass
class ManifestEntry:
    shard: str  # file name of the tar, relative to the output directory
    samples: int
    images: int
    bytes: int
    sha256: str
    kind: str  # interleaved | pair | empty (a shard holds one kind)

    def to_json(self) -> dict:
        return asdict(self)


class _HashingWriter(io.RawIOBase):
    """File wrapper that hashes and counts what passes through it."""

    def __init__(self, f):
        self._f, self.sha = f, hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.sha.update(b)
        self.size += len(b)
        return self._f.write(b)


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _tmp_path(path: str) -> str:
    d, base = os.path.split(path)
    return os.path.join(d, f".{base}.tmp-{uuid.uuid4().hex[:12]}")


def _commit(tmp: str, final: str) -> None:
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)


def index_row(sample: sf.Sample) -> dict:
    """One parquet row. Pair shards use img2dataset's columns so its tools read them."""
    if isinstance(sample, sf.InterleavedSample):
        images = sample.images
        return {
            "key": sample.key,
            "url": sample.url,
            "doc_id": sample.doc_id,
            "seq_index": sample.seq_index,
            "num_tokens": sample.num_tokens,
            "num_images": len(images),
            "image_urls": [i.url for i in images],
            "image_sha256": [i.sha256 for i in images],
            "image_widths": [i.width for i in images],
            "image_heights": [i.height for i in images],
            "image_alts": [i.alt for i in images],
        }
    extra = sample.extra
    return {
        "url": sample.url,
        "caption": sample.caption,
        "key": sample.key,
        "status": "success",
        "error_message": None,
        "width": sample.width,
        "height": sample.height,
        "original_width": int(extra.get("original_width") or sample.width),
        "original_height": int(extra.get("original_height") or sample.height),
        "exif": None,
        "sha256": sample.sha256,
        "page_url": extra.get("page_url"),
        "clip_score": extra.get("clip_score"),
    }


def index_schema(kind: str):
    import pyarrow as pa

    if kind == sf.KIND_PAIR:
        return pa.schema(
            [
                ("url", pa.string()),
                ("caption", pa.string()),
                ("key", pa.string()),
                ("status", pa.string()),
                ("error_message", pa.string()),
                ("width", pa.int64()),
                ("height", pa.int64()),
                ("original_width", pa.int64()),
                ("original_height", pa.int64()),
                ("exif", pa.string()),
                ("sha256", pa.string()),
                ("page_url", pa.string()),
                ("clip_score", pa.float64()),
            ]
        )
    return pa.schema(
        [
            ("key", pa.string()),
            ("url", pa.string()),
            ("doc_id", pa.string()),
            ("seq_index", pa.int32()),
            ("num_tokens", pa.int32()),
            ("num_images", pa.int32()),
            ("image_urls", pa.list_(pa.string())),
            ("image_sha256", pa.list_(pa.string())),
            ("image_widths", pa.list_(pa.int32())),
            ("image_heights", pa.list_(pa.int32())),
            ("image_alts", pa.list_(pa.string())),
        ]
    )


def write_shard(out_dir: str, name: str, samples: Iterable[sf.Sample]) -> ManifestEntry:
    """Write ``samples`` as shard ``name`` in ``out_dir``; return its manifest entry.

    Streams: samples may be a generator, only one sample's members are in memory at a
    time (plus the index rows). On any exception nothing finished-looking is left.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if "/" in name or name.startswith("."):
        raise ValueError(f"bad shard name {name!r}")
    os.makedirs(out_dir, exist_ok=True)
    final = {s: os.path.join(out_dir, name + s) for s in (TAR_SUFFIX, INDEX_SUFFIX, MANIFEST_SUFFIX)}
    tmps = {s: _tmp_path(p) for s, p in final.items()}
    rows, n_images = [], 0
    kind = ""
    try:
        with open(tmps[TAR_SUFFIX], "wb") as raw:
            hw = _HashingWriter(raw)
            with tarfile.open(fileobj=hw, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
                for sample in samples:
                    if kind and sample.kind != kind:
                        raise ValueError(f"shard {name}: {sample.kind} sample among {kind} samples")
                    kind = sample.kind
                    for member, data in sf.encode(sample):
                        tar.addfile(_tarinfo(member, len(data)), io.BytesIO(data))
                    rows.append(index_row(sample))
                    n_images += len(sample.images) if kind == sf.KIND_INTERLEAVED else 1
        kind = kind or "empty"
        table = pa.Table.from_pylist(rows, schema=index_schema(kind))
        pq.write_table(table, tmps[INDEX_SUFFIX], compression="zstd")
        entry = ManifestEntry(name + TAR_SUFFIX, len(rows), n_images, hw.size, hw.sha.hexdigest(), kind)
        with open(tmps[MANIFEST_SUFFIX], "w") as f:
            json.dump(entry.to_json(), f, indent=1, sort_keys=True)
        # Manifest last: it is what marks the shard complete.
        for suffix in (TAR_SUFFIX, INDEX_SUFFIX, MANIFEST_SUFFIX):
            _commit(tmps[suffix], final[suffix])
        return entry
    finally:
        for tmp in tmps.values():
            if os.path.exists(tmp):
                os.remove(tmp)


def is_complete(out_dir: str, name: str) -> bool:
    """A shard is finished when its manifest exists and the tar it names has that size."""
    manifest = os.path.join(out_dir, name + MANIFEST_SUFFIX)
    try:
        with open(manifest) as f:
            entry = json.load(f)
        return os.path.getsize(os.path.join(out_dir, entry["shard"])) == entry["bytes"]
    except (OSError, ValueError, KeyError):
        return False


def read_manifests(out_dir: str) -> list[ManifestEntry]:
    """All complete shards' manifest entries in a directory, sorted by shard name."""
    entries = []
    for fname in sorted(os.listdir(out_dir)):
        if fname.endswith(MANIFEST_SUFFIX) and not fname.startswith("."):
            name = fname[: -len(MANIFEST_SUFFIX)]
            if is_complete(out_dir, name):
                with open(os.path.join(out_dir, fname)) as f:
                    entries.append(ManifestEntry(**json.load(f)))
    return entries


def write_job_manifest(out_dir: str) -> str:
    """Gather every complete shard's entry into ``manifest.json`` (atomically)."""
    entries = read_manifests(out_dir)
    doc = {
        "shards": [e.to_json() for e in entries],
        "samples": sum(e.samples for e in entries),
        "images": sum(e.images for e in entries),
        "bytes": sum(e.bytes for e in entries),
    }
    path = os.path.join(out_dir, "manifest.json")
    tmp = _tmp_path(path)
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    _commit(tmp, path)
    return path
