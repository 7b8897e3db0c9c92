"""Seeking reads of a shard tar: one sample's members, or every sample's place, without
reading image bytes that are not wanted.

A shard's parquet index says where each sample lies (``tar_offset``, ``tar_size``; see
:mod:`pipeline.shards.index`). :func:`read_region` reads one sample from there;
:func:`scan_locations` finds the places of every sample of a shard that has no such columns
(older shards, img2dataset's) by walking the headers and seeking past member data.

Members are judged by :func:`pipeline.shards.reader.split_member`, as every reader of shards
does: links, devices, absolute or ``..`` names and disallowed extensions are reported, never
read. Nothing is extracted to disk. No Beam, no torch.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from pipeline.shards import reader

BLOCK = 512
# One sample's members together may not pass this (5 images of the reader's 64 MiB cap, and room).
MAX_REGION_BYTES = 6 * reader.MAX_MEMBER_BYTES
# Small text members (KEY.json, KEY.txt) read during scans and searches; larger ones are skipped.
MAX_TEXT_MEMBER = 4 << 20


class RegionFile(io.RawIOBase):
    """A read-only window ``[start, end)`` of a seekable file, seen as a file of its own."""

    def __init__(self, f: IO[bytes], start: int, end: int):
        super().__init__()
        self._f, self._start, self._end, self._pos = f, start, end, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._end - self._start}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def read(self, n: int = -1) -> bytes:
        left = self._end - self._start - self._pos
        n = left if n is None or n < 0 else min(n, left)
        if n <= 0:
            return b""
        self._f.seek(self._start + self._pos)
        data = self._f.read(n)
        self._pos += len(data)
        return data

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


@dataclass
class Member:
    key: str
    suffix: str
    offset: int  # of its header, from the start of the walked file
    end: int  # end of its data, padded to a block
    data: bytes | None  # None when not wanted (or refused: see problem)
    problem: str | None = None


_SPECIAL = {tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
            tarfile.GNUTYPE_LONGLINK, tarfile.GNUTYPE_SPARSE}
_EOF = 1 << 62


def walk(f: IO[bytes], want: Callable[[str, str, int], bool], start: int = 0,
         end: int | None = None) -> Iterator[Member]:
    """Every member of a tar on a seekable file from byte ``start`` (a header) to ``end`` (or
    the end of the archive), in order; data read only where ``want(key, suffix, size)`` and
    the member is acceptable. A corrupt header ends the walk with a member whose ``problem``
    says where.

    Plain ustar/GNU headers are parsed here, one 512-byte read each (a search reads 10,000
    samples' headers in a fraction of a second); a pax or GNU long-name header hands the rest
    of the walk to :mod:`tarfile`, which knows every extension.
    """
    limit = _EOF if end is None else end
    pos = start
    while pos < limit:
        f.seek(pos)
        buf = f.read(BLOCK)
        if not buf.strip(b"\0"):
            return  # end-of-archive blocks (or the end of the file)
        try:
            info = tarfile.TarInfo.frombuf(buf, "utf-8", "surrogateescape")
        except tarfile.HeaderError as e:
            yield Member("", "", pos, pos, None, f"corrupt tar header at byte {pos}: {e}")
            return
        if info.type in _SPECIAL:
            yield from _walk_tarfile(f, want, pos, limit)
            return
        if info.size < 0:
            yield Member("", "", pos, pos, None, f"corrupt tar header at byte {pos}: negative size")
            return
        info.offset, info.offset_data = pos, pos + BLOCK
        member = _member(f, info, want)
        yield member
        pos = member.end


def _member(f: IO[bytes], info: tarfile.TarInfo, want) -> Member:
    key, suffix, problem = reader.split_member(info)
    end = info.offset_data + -(-info.size // BLOCK) * BLOCK
    data = None
    if problem is None and info.isfile() and want(key, suffix, info.size):
        f.seek(info.offset_data)
        data = f.read(info.size)
        if len(data) != info.size:
            problem, data = f"member {info.name!r} is truncated", None
    return Member(key, suffix, info.offset, end, data, problem)


def _walk_tarfile(f: IO[bytes], want, start: int, limit: int) -> Iterator[Member]:
    """The general walk, through :mod:`tarfile` (pax and GNU extensions), from ``start``."""
    window = RegionFile(f, start, limit)
    try:
        tar = tarfile.open(fileobj=window, mode="r:")
        info = tar.next()
    except tarfile.TarError as e:
        yield Member("", "", start, start, None, f"corrupt tar header at byte {start}: {e}")
        return
    while info is not None:
        info.offset += start
        info.offset_data += start
        yield _member(f, info, want)
        tar.members.clear()  # a long walk must not keep every header
        try:
            info = tar.next()
        except tarfile.TarError as e:
            yield Member("", "", start + tar.offset, start + tar.offset, None, f"corrupt tar header: {e}")
            return
    rest = _peek(window, tar.offset)
    if rest.strip(b"\0"):
        yield Member("", "", start + tar.offset, start + tar.offset, None,
                     f"corrupt tar header at byte {start + tar.offset}")


def _peek(f: IO[bytes], at: int) -> bytes:
    f.seek(at)
    return f.read(BLOCK)


@dataclass
class Region:
    """One sample read from its place in the tar."""

    key: str
    members: dict[str, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_region(f: IO[bytes], offset: int, size: int, key: str, file_size: int | None,
                want: Callable[[str, str, int], bool] = lambda k, s, n: True) -> Region:
    """The members of sample ``key`` at ``[offset, offset + size)``. Raises :class:`StaleIndex`
    when the place does not hold that sample (an index that does not belong to this tar)."""
    if offset < 0 or size <= 0 or offset % BLOCK or size > MAX_REGION_BYTES:
        raise StaleIndex(f"index gives sample {key!r} an impossible place ({offset}, {size} bytes)")
    if file_size is not None and offset + size > file_size:
        raise StaleIndex(f"index places sample {key!r} past the end of the tar")
    region = Region(key)
    for m in walk(f, want, offset, offset + size):
        if m.key != key or m.end > offset + size:
            raise StaleIndex(f"index places sample {key!r} where the tar holds {m.key or m.problem!r}")
        if m.problem:
            region.problems.append(m.problem)
        elif m.data is not None:
            if m.suffix in region.members:
                region.problems.append(f"member {key}.{m.suffix} appears twice")
                continue
            region.members[m.suffix] = m.data
    return region


class StaleIndex(ValueError):
    """The parquet index does not describe this tar: fall back to a scan."""


@dataclass
class Location:
    key: str
    offset: int
    size: int
    texts: dict[str, bytes] = field(default_factory=dict)  # small json/txt members read on the way
    problems: list[str] = field(default_factory=list)


def scan_locations(f: IO[bytes], read_texts: bool = True) -> tuple[list[Location], list[str]]:
    """Every sample's place in a tar (consecutive members with one key), plus tar-level
    problems. With ``read_texts`` the small ``json``/``txt`` members are read on the way, so
    a shard without an index can still be listed and searched."""
    def want(key: str, suffix: str, size: int) -> bool:
        return read_texts and suffix in ("json", "txt") and size <= MAX_TEXT_MEMBER

    out: list[Location] = []
    problems: list[str] = []
    for m in walk(f, want):
        if not m.key:  # a tar-level problem
            problems.append(m.problem or "unreadable tar")
            continue
        if out and out[-1].key == m.key:
            loc = out[-1]
            loc.size = m.end - loc.offset
        else:
            loc = Location(m.key, m.offset, m.end - m.offset)
            out.append(loc)
        if m.problem:
            loc.problems.append(m.problem)
        elif m.data is not None:
            loc.texts[m.suffix] = m.data
    return out, problems
