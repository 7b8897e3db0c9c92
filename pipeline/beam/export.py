"""Beam layer of `flamingo export`: one of our shards -> one file in another trainer's layout.

Each input shard is read as a stream (never extracted), each valid interleaved sample converted
by :mod:`pipeline.export`, and the output written under a temporary local name, then copied to
the output through Beam's filesystems (atomically). Pair and video samples have no place in
either layout and are counted, like invalid samples (counters ``export/<reason>``); nothing is
dropped silently.
Output names follow input names, so the same shards give the same files, byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tarfile
import tempfile

import apache_beam as beam

from pipeline.beam import files
from pipeline.beam.counters import count
from pipeline.export import mmc4, obelics
from pipeline.shards import format as sf
from pipeline.shards import reader
from pipeline.shards.writer import tar_info

log = logging.getLogger(__name__)
ROWS_PER_GROUP = 64  # an OBELICS row holds its images' bytes: small row groups bound memory


def output_name(shard_path: str, fmt: str) -> str:
    base = shard_path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".tar")
    return f"{base}.parquet" if fmt == "obelics" else f"{base}.tar"


def iter_interleaved(path: str):
    """The valid interleaved samples of one shard, streamed; the rest counted and logged."""
    with files.open_read(path) as f:
        for raw in reader.iter_raw(f, path):
            problems = raw.problems or sf.validate(raw.key, raw.members, check_images=False, max_images=None)
            if problems:
                count("export", "invalid_sample")
                log.warning("%s: sample %r skipped: %s", path, raw.key, "; ".join(problems)[:300])
                continue
            sample = sf.decode(raw.key, raw.members)
            if not isinstance(sample, sf.InterleavedSample):
                count("export", f"{sample.kind}_sample_skipped")  # pairs, video: no place in either layout
                continue
            count("export", "samples")
            yield sample


def write_mmc4(samples, local: str) -> tuple[int, int]:
    n = n_images = 0
    with open(local, "wb") as raw, tarfile.open(fileobj=raw, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
        for sample in samples:
            data = json.dumps(mmc4.to_mmc4(sample), ensure_ascii=False).encode()
            tar.addfile(tar_info(f"{sample.key}.json", len(data)), io.BytesIO(data))
            n, n_images = n + 1, n_images + len(sample.images)
    return n, n_images


def write_obelics(samples, local: str) -> tuple[int, int]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema, rows, n, n_images = obelics.schema(), [], 0, 0
    with pq.ParquetWriter(local, schema, compression="zstd") as w:
        for sample in samples:
            rows.append(obelics.to_row(sample))
            n, n_images = n + 1, n_images + len(sample.images)
            if len(rows) == ROWS_PER_GROUP:
                w.write_table(pa.Table.from_pylist(rows, schema=schema))
                rows = []
        if rows or not n:
            w.write_table(pa.Table.from_pylist(rows, schema=schema))
    return n, n_images


WRITERS = {"mmc4": write_mmc4, "obelics": write_obelics}


class ExportShardFn(beam.DoFn):
    """A shard path -> its converted file in ``output``; yields the file's manifest entry."""

    def __init__(self, output: str, fmt: str):
        self.output, self.fmt = output, fmt

    def process(self, path: str):
        name = output_name(path, self.fmt)
        with tempfile.TemporaryDirectory(prefix="flamingo-export-") as tmp:
            local = os.path.join(tmp, name)
            n, n_images = WRITERS[self.fmt](iter_interleaved(path), local)
            sha, size = hashlib.sha256(), 0
            with open(local, "rb") as f:
                while chunk := f.read(files.CHUNK):
                    sha.update(chunk)
                    size += len(chunk)
            files.upload(local, files.join(self.output, name))
        count("export", "files")
        yield {"file": name, "source": path, "samples": n, "images": n_images, "bytes": size,
               "sha256": sha.hexdigest(), "format": self.fmt}


def write_job_files(entries: list[dict], output: str) -> None:
    """``sizes.json`` (samples per file: OpenFlamingo's and open_clip's loaders read it), then,
    last, ``manifest.json``."""
    entries = sorted(entries, key=lambda e: e["file"])
    files.write_json(files.join(output, "sizes.json"), {e["file"]: e["samples"] for e in entries})
    files.write_json(files.join(output, "manifest.json"), {
        "format": entries[0]["format"] if entries else None, "files": entries,
        "samples": sum(e["samples"] for e in entries), "images": sum(e["images"] for e in entries),
        "bytes": sum(e["bytes"] for e in entries)})


class ExportShards(beam.PTransform):
    """Shard paths -> converted files, ``sizes.json`` and ``manifest.json`` in ``output``."""

    def __init__(self, shards: list[str], output: str, fmt: str):
        super().__init__()
        self.shards, self.output, self.fmt = shards, output, fmt

    def expand(self, pbegin):
        return (
            pbegin
            | "Shards" >> beam.Create(sorted(self.shards))
            | "Spread" >> beam.Reshuffle()
            | "Convert" >> beam.ParDo(ExportShardFn(self.output, self.fmt))
            | "Gather" >> beam.combiners.ToList()
            | "WriteManifest" >> beam.Map(write_job_files, self.output)
        )
