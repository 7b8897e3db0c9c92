"""Atomic, deterministic shard writing: tar + parquet index + manifest entry.

A shard ``NAME`` becomes three files in the output directory, in this order:

* ``NAME.tar``            the samples, members in :func:`pipeline.shards.format.encode` order;
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

from pipeline.shards import format as sf
from pipeline.shards.index import index_row, index_schema
from pipeline.shards.manifest import INDEX_SUFFIX, MANIFEST_SUFFIX, TAR_SUFFIX, ManifestEntry


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


def tar_info(name: str, size: int) -> tarfile.TarInfo:
    """A tar header with fixed mtime, owner and mode: the same members give the same bytes."""
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


def image_count(sample: sf.Sample) -> int:
    """Images a sample stores: an interleaved sample's images, a clip's frames, a pair's one."""
    if isinstance(sample, sf.InterleavedSample):
        return len(sample.images)
    if isinstance(sample, sf.VideoSample):
        return len(sample.frames)
    return 1


def shard_name(prefix: str, index: int) -> str:
    """``PREFIX-00012``; with no prefix ``00012``, as img2dataset names its shards."""
    return f"{prefix}-{index:05d}" if prefix else f"{index:05d}"


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
                    start = tar.offset  # where this sample's first header goes (stream mode too)
                    for member, data in sf.encode(sample):
                        tar.addfile(tar_info(member, len(data)), io.BytesIO(data))
                    rows.append(index_row(sample, start, tar.offset - start))
                    n_images += image_count(sample)
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
