"""Streaming shard reads: tar members grouped into samples, never extracted, never unpickled.

Local paths and fsspec URLs; shell ``pipe:`` URLs are refused. Bad members (links,
devices, absolute or ``..`` names, subdirectories, oversized, disallowed extensions) are
reported as problems of the sample they belong to. Imports neither Beam nor torch.
"""

from __future__ import annotations

import glob
import os
import re
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from pipeline.shards import format as sf
from pipeline.shards.format import Sample, ShardFormatError, decode, validate

MAX_MEMBER_BYTES = 64 << 20


@dataclass
class RawSample:
    """One sample's members as read from a tar, with any tar-level problems."""

    shard: str
    key: str
    members: dict[str, bytes]
    problems: list[str] = field(default_factory=list)


def open_shard(path: str) -> IO[bytes]:
    """Open a local path or fsspec URL for streaming. Shell ``pipe:`` URLs are refused."""
    if path.startswith("pipe:"):
        raise ShardFormatError(f"refusing shell URL {path!r}")
    if "://" in path and not path.startswith("file://"):
        import fsspec

        return fsspec.open(path, "rb").open()
    return open(path.removeprefix("file://"), "rb")


def iter_raw(fileobj: IO[bytes], shard: str = "<stream>") -> Iterator[RawSample]:
    """Stream a tar and group consecutive members by key; nothing touches the disk.

    Bad members (links, devices, absolute or ``..`` names, subdirectories, oversized)
    are reported as problems of the sample they belong to, never extracted.
    """
    current: RawSample | None = None
    seen: set[str] = set()
    try:
        tar = tarfile.open(fileobj=fileobj, mode="r|*")
        for info in tar:
            key, suffix, problem = split_member(info)
            if current is None or key != current.key:
                if current is not None:
                    yield current
                current = RawSample(shard, key, {})
                if key in seen:
                    current.problems.append(f"key {key!r} appears again, apart from its first members")
                seen.add(key)
            if problem:
                current.problems.append(problem)
                continue
            if suffix in current.members:
                current.problems.append(f"member {info.name!r} appears twice")
                continue
            f = tar.extractfile(info)
            current.members[suffix] = f.read() if f is not None else b""
    except (tarfile.TarError, EOFError, OSError) as e:
        if current is None:
            current = RawSample(shard, "", {})
        current.problems.append(f"tar is truncated or corrupt: {e}")
    if current is not None:
        yield current


def split_member(info: tarfile.TarInfo) -> tuple[str, str, str | None]:
    """A tar member -> (key, suffix after the first dot, problem or None). Every reader of
    shards (this module's stream, ``flamingo view``'s seeks) judges members here."""
    name = info.name
    if name.startswith("/") or name.startswith("\\") or re.match(r"^[A-Za-z]:", name):
        return name, "", f"member {name!r} has an absolute path"
    parts = re.split(r"[/\\]", name)
    if ".." in parts:
        return name, "", f"member {name!r} escapes the archive with '..'"
    if len(parts) > 1:
        return name, "", f"member {name!r} is in a subdirectory (shards are flat)"
    key, _, suffix = name.partition(".")
    if not info.isfile():
        return key, suffix, f"member {name!r} is not a regular file"
    if not suffix:
        return key, suffix, f"member {name!r} has no extension"
    if info.size > MAX_MEMBER_BYTES:
        return key, suffix, f"member {name!r} is {info.size} bytes, over {MAX_MEMBER_BYTES}"
    last = suffix.rsplit(".", 1)[-1].lower()
    if last not in sf.ALLOWED_SUFFIXES:
        return key, suffix, f"member {name!r}: extension {last!r} is not allowed (never decoded)"
    return key, suffix, None


def read_shard(path: str, **validate_kwargs: Any) -> Iterator[tuple[RawSample, Sample | None]]:
    """Yield ``(raw, sample)``; ``sample`` is None and ``raw.problems`` says why when invalid."""
    with open_shard(path) as f:
        for raw in iter_raw(f, path):
            problems = raw.problems + validate(raw.key, raw.members, **validate_kwargs)
            raw.problems = problems
            yield raw, (None if problems else decode(raw.key, raw.members))


def iter_samples(paths: Iterable[str], **validate_kwargs: Any) -> Iterator[Sample]:
    """Valid samples from shards in order; invalid ones raise ShardFormatError."""
    for path in paths:
        for raw, sample in read_shard(path, **validate_kwargs):
            if sample is None:
                raise ShardFormatError(f"{path}: sample {raw.key!r}: " + "; ".join(raw.problems))
            yield sample


def expand_paths(patterns: Iterable[str]) -> list[str]:
    """Shard files, directories (their ``*.tar``), globs, ``{000..099}`` braces and fsspec URLs
    -> the shard list, sorted within each pattern (so every rank sees the same list).
    Shell ``pipe:`` URLs are refused."""
    from braceexpand import braceexpand  # webdataset's dependency; expands {a,b} and {0..9}

    out: list[str] = []
    for pattern in patterns:
        for url in braceexpand(pattern):
            if url.startswith("pipe:"):
                raise ShardFormatError(f"refusing shell URL {url!r}")
            out += _expand_one(url)
    return out


def _expand_one(url: str) -> list[str]:
    wildcard = any(c in url for c in "*?[")
    if "://" in url and not url.startswith("file://"):
        import fsspec

        fs, _, found = fsspec.get_fs_token_paths(url)
        if wildcard:
            found = [f for f in found if f.endswith(".tar")]
        elif fs.isdir(url):
            found = [f for f in fs.ls(url, detail=False) if f.endswith(".tar")]
        return [fs.unstrip_protocol(f) for f in sorted(found)]
    path = url.removeprefix("file://")
    if os.path.isdir(path):
        return sorted(glob.glob(os.path.join(path, "*.tar")))
    if wildcard:
        return sorted(glob.glob(path))
    return [path]
