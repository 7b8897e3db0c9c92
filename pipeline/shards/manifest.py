"""Manifests: what marks a shard, and a whole job, finished.

``NAME.manifest.json`` is written last of a shard's files, so its presence (with a tar of
the size it names) means the shard is complete; ``manifest.json`` gathers every complete
shard's entry for the job. Imports neither Beam nor torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

TAR_SUFFIX = ".tar"
INDEX_SUFFIX = ".parquet"
MANIFEST_SUFFIX = ".manifest.json"
JOB_MANIFEST = "manifest.json"


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
    path = os.path.join(out_dir, JOB_MANIFEST)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path
