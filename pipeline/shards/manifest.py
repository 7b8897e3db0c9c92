"""Manifests: what marks a shard, and a whole job, finished.

``NAME.manifest.json`` is written last of a shard's files, so its presence (with a tar of
the size it names) means the shard is complete; ``manifest.json`` gathers every complete
shard's entry for the job and is written last of all the job's files, so only it marks a
finished job. A manifest is adopted only if it describes its own shard: ``NAME.manifest.json``
must name ``NAME.tar``, a plain file name in the same directory (a planted manifest naming
``../victim.txt`` is ignored). Imports neither Beam nor torch; the job reads the same files
on object stores through ``pipeline.beam.manifests``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass

TAR_SUFFIX = ".tar"
INDEX_SUFFIX = ".parquet"
MANIFEST_SUFFIX = ".manifest.json"
JOB_MANIFEST = "manifest.json"
_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")  # what shard_name() makes: no dots, no slashes


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


def is_plain_name(name: str) -> bool:
    """A shard name as the writer makes them: letters, digits, ``_`` and ``-``, nothing else."""
    return bool(_PLAIN.match(name))


def entry_of(name: str, data: object) -> ManifestEntry | None:
    """The entry in shard ``name``'s manifest, or None unless it is well-formed and describes
    that very shard (``NAME.tar`` in the same directory)."""
    if not is_plain_name(name) or not isinstance(data, dict):
        return None
    try:
        entry = ManifestEntry(**data)
    except TypeError:
        return None
    ints = (entry.samples, entry.images, entry.bytes)
    if entry.shard != name + TAR_SUFFIX or not all(isinstance(n, int) and n >= 0 for n in ints):
        return None
    if not isinstance(entry.sha256, str) or not isinstance(entry.kind, str):
        return None
    return entry


def job_manifest(entries: list[ManifestEntry]) -> dict:
    """The job-level ``manifest.json`` of these shards."""
    return {
        "shards": [e.to_json() for e in entries],
        "samples": sum(e.samples for e in entries),
        "images": sum(e.images for e in entries),
        "bytes": sum(e.bytes for e in entries),
    }


# --- local directories (the bench baseline, tests and tools; the jobs use pipeline.beam.manifests)


def complete_entry(out_dir: str, name: str) -> ManifestEntry | None:
    """Shard ``name``'s entry if it is finished: its manifest is valid and the tar it names has
    the size it records."""
    try:
        with open(os.path.join(out_dir, name + MANIFEST_SUFFIX)) as f:
            entry = entry_of(name, json.load(f))
        if entry is not None and os.path.getsize(os.path.join(out_dir, entry.shard)) == entry.bytes:
            return entry
    except (OSError, ValueError):
        pass
    return None


def is_complete(out_dir: str, name: str) -> bool:
    return complete_entry(out_dir, name) is not None


def read_manifests(out_dir: str) -> list[ManifestEntry]:
    """All complete shards' manifest entries in a directory, sorted by shard name."""
    entries = []
    for fname in sorted(os.listdir(out_dir)):
        if fname.endswith(MANIFEST_SUFFIX) and not fname.startswith("."):
            entry = complete_entry(out_dir, fname[: -len(MANIFEST_SUFFIX)])
            if entry is not None:
                entries.append(entry)
    return entries


def write_job_manifest(out_dir: str) -> str:
    """Gather every complete shard's entry into ``manifest.json`` (atomically)."""
    path = os.path.join(out_dir, JOB_MANIFEST)
    tmp = os.path.join(out_dir, f".{JOB_MANIFEST}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(job_manifest(read_manifests(out_dir)), f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
