"""Shard manifests on any filesystem: which shards of an output are complete.

The rules are :mod:`pipeline.shards.manifest`'s (a manifest is adopted only if it names its
own shard, and the tar has the size it records); this module reads the files through
:mod:`pipeline.beam.files`, listing only names that start like a shard of this job, so that
a bucket's listing never walks the blob store under ``_work/``.
"""

from __future__ import annotations

import re

from pipeline.beam import files
from pipeline.shards import manifest as m


def _patterns(out_dir: str, prefix: str, suffix: str) -> list[str]:
    if prefix:
        return [files.join(out_dir, f"{prefix}-*{suffix}")]
    # img2dataset-style names (00012.tar): one listing per leading digit keeps each listing's
    # literal prefix specific (``out/0``), which ``out/*`` would not be on an object store.
    return [files.join(out_dir, f"{d}*{suffix}") for d in "0123456789"]


def _name_re(prefix: str) -> re.Pattern:
    return re.compile(rf"^{re.escape(prefix)}-\d{{5,}}$" if prefix else r"^\d{5,}$")


def _listing(out_dir: str, prefix: str, suffix: str) -> dict[str, int]:
    """Shard name -> size of its file with ``suffix``, for names this job writes."""
    found: dict[str, int] = {}
    ok = _name_re(prefix)
    for pattern in _patterns(out_dir, prefix, suffix):
        for path, size in files.match(pattern).items():
            base = path.rstrip("/").rsplit("/", 1)[-1]
            name = base[: -len(suffix)]
            if base.endswith(suffix) and ok.match(name):
                found[name] = size
    return found


def complete_entry(out_dir: str, name: str) -> m.ManifestEntry | None:
    """Shard ``name``'s entry if it is complete (its manifest valid, its tar of that size)."""
    try:
        entry = m.entry_of(name, files.read_json(files.join(out_dir, name + m.MANIFEST_SUFFIX)))
    except (OSError, ValueError):
        return None
    except Exception:  # noqa: BLE001 (object stores raise their own "not found")
        return None
    if entry is None or files.size(files.join(out_dir, entry.shard)) != entry.bytes:
        return None
    return entry


def read_entries(out_dir: str, prefix: str) -> list[m.ManifestEntry]:
    """Every complete shard of this job's naming in ``out_dir``, sorted by name."""
    manifests = _listing(out_dir, prefix, m.MANIFEST_SUFFIX)
    tars = _listing(out_dir, prefix, m.TAR_SUFFIX)
    entries = []
    for name in sorted(manifests):
        if name not in tars:
            continue
        try:
            entry = m.entry_of(name, files.read_json(files.join(out_dir, name + m.MANIFEST_SUFFIX)))
        except ValueError:
            continue
        if entry is not None and tars[name] == entry.bytes:
            entries.append(entry)
    return entries


def any_shards(out_dir: str, prefix: str) -> bool:
    return bool(_listing(out_dir, prefix, m.TAR_SUFFIX))
