"""Open a shard at its n-th sample by walking tar headers only: member data is seeked over, never read.

Resuming a data stream must cost the same after 1,000 steps as after 10, so a worker that
restarts mid-shard jumps to its sample instead of replaying the samples before it. A tar is
a chain of 512-byte headers, each followed by its member's data; ``tarfile`` in random-access
mode seeks from one header to the next. Samples are counted with the grouping rule of
``pipeline.shards.reader.iter_raw`` (consecutive members sharing the key before the first
dot; a badly named member is a sample of its own), so index n here is the n-th sample
``iter_raw`` yields. Where seeking is impossible (a compressed or damaged tar) the shard is
opened at its start and the caller skips samples as they stream past, still undecoded.

A loader worker reads a shard chunk after chunk, each chunk opening it at the sample where the
last one stopped; ``Offsets`` keeps the places already walked, so each header of a shard is
parsed once per worker instead of once per chunk (with 16-sample chunks of 64-sample shards,
11 headers parsed per sample read before; bench/README.md, "Trainer").
"""

from __future__ import annotations

import re
import tarfile
from typing import IO

from pipeline.shards import reader

_BAD_NAME = re.compile(r"^([/\\]|[A-Za-z]:)")


def sample_key(name: str) -> str:
    """The key ``iter_raw`` groups a member under (it mirrors ``reader``'s member check: a name
    with a directory, ``..`` or an absolute path is a sample of its own)."""
    if _BAD_NAME.match(name):
        return name
    parts = re.split(r"[/\\]", name)
    if ".." in parts or len(parts) > 1:
        return name
    return name.partition(".")[0]


def sample_offsets(f: IO[bytes], stop: int) -> list[int]:
    """Byte offsets of the first header of samples 0..stop (fewer if the tar ends first), counted
    from where ``f`` stands, which must be a sample's first header (the tar's start, or a
    place this function found).

    Raises ``tarfile.TarError`` (or OSError) when the tar cannot be walked in random access.
    """
    offsets: list[int] = []
    tar = tarfile.open(fileobj=f, mode="r:")  # plain tar, seekable: next() seeks over data
    key = None
    while len(offsets) <= stop:
        info = tar.next()
        if info is None:
            break
        k = sample_key(info.name)
        if k != key:
            offsets.append(info.offset)  # offset of the member's first header (pax/GNU ones included)
            key = k
        tar.members.clear()  # the walk never looks back: keep memory flat on big shards
    return offsets[:stop + 1]


class Offsets:
    """The sample offsets walked so far, per shard, for one reader (a loader worker)."""

    def __init__(self) -> None:
        self._walked: dict[str, tuple[list[int], bool]] = {}  # url -> (offsets, the walk reached the end)

    def find(self, f: IO[bytes], url: str, index: int) -> list[int]:
        """Offsets of samples 0..index at least (fewer: the shard has no sample ``index``),
        walking only past the last place known; ``f`` is the shard, opened."""
        offsets, ended = self._walked.get(url, ([], False))
        if len(offsets) <= index and not ended:
            start = offsets[-1] if offsets else 0
            f.seek(start)
            more = sample_offsets(f, index - max(0, len(offsets) - 1))
            offsets = offsets[:-1] + more if offsets else more
            ended = len(offsets) <= index
            self._walked[url] = (offsets, ended)
        return offsets


def open_at(url: str, index: int, known: Offsets | None = None) -> tuple[IO[bytes] | None, int]:
    """``(file, first)``: the shard opened at sample ``first``; ``first == index`` when the
    header walk worked, 0 when the caller must skip ``index`` samples itself; ``(None, index)``
    when the shard has no sample ``index`` (nothing left to read). ``known``: places found by
    earlier calls of the same reader, reused and extended."""
    f = reader.open_shard(url)
    if index <= 0:
        return f, 0
    try:
        offsets = (known or Offsets()).find(f, url, index)
    except (tarfile.TarError, OSError, EOFError, ValueError):
        f.close()
        return reader.open_shard(url), 0
    if len(offsets) <= index:
        f.close()
        return None, index
    f.seek(offsets[index])
    return f, index
