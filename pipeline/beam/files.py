"""Every file a job reads or writes, on any filesystem Beam knows (local, ``gs://``, ``s3://``).

Shards, indexes, manifests, ``stats.json``, ``report.md`` and its plots, ``config.json``, the
blob store and the output lock all go through these few functions, so a job behaves the same
whether its output is a local directory or a bucket, and no code path quietly falls back to
the launcher's disk. Object stores go through Beam's ``FileSystems`` (an object appears only
when its upload completes, so a plain write is already atomic there). Local paths use the os
directly for what ``FileSystems``' local implementation lacks: a temporary name, ``fsync`` and
an atomic rename, so a crash or a full disk never leaves a finished-looking file.

Compression is never inferred from a name (``FileSystems`` would gzip a ``.gz`` on write and
gunzip it on read): bytes are stored and read as they are.

``FileSystems`` reads the object stores' settings (``--s3_endpoint_url``, credentials, ...) from
the pipeline options: the launcher calls :func:`configure` with them before touching any path;
Beam's workers do the same with the options they are given.

Per-object calls (the blob store's puts and gets, existence checks) go to one Beam IO client per
store and process (``S3IO``, ``GcsIO``, made from those same options): ``FileSystems`` builds a
new one, and with it a new boto3 or storage client, for every call, which cost ~80 ms per
object in the harness (600 objects: 50 s of a 60 s job) and would cost CPU-years over a
billion images.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterable

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

RAW = CompressionTypes.UNCOMPRESSED
CHUNK = 8 << 20


def configure(beam_args: list[str]) -> None:
    """Give ``FileSystems`` the object stores' options (endpoint, credentials) in this process."""
    from apache_beam.options.pipeline_options import PipelineOptions

    FileSystems.set_options(PipelineOptions(beam_args))


_IO_LOCK = threading.Lock()
_IO: dict[str, tuple[object, object]] = {}  # scheme -> (the options it was made from, Beam IO client)


def _object_io(path: str):
    """The process's Beam IO client for an ``s3://`` or ``gs://`` path (None for others)."""
    scheme = path.split("://", 1)[0]
    if scheme not in ("s3", "gs"):
        return None
    options = FileSystems._pipeline_options  # noqa: SLF001 (what FileSystems itself passes on)
    with _IO_LOCK:
        made_from, client = _IO.get(scheme, (None, None))
        if client is None or made_from is not options:
            if scheme == "s3":
                from apache_beam.io.aws.s3io import S3IO

                client = S3IO(options=options)
            else:
                from apache_beam.io.gcp.gcsio import GcsIO

                client = GcsIO(pipeline_options=options)
            _IO[scheme] = (options, client)
        return client


def is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def local_path(path: str) -> str:
    return path.removeprefix("file://")


def join(directory: str, *names: str) -> str:
    if is_remote(directory):
        return "/".join([directory.rstrip("/"), *names])
    return os.path.join(local_path(directory), *names)


def exists(path: str) -> bool:
    if is_remote(path):
        io = _object_io(path)
        return io.exists(path) if io is not None else FileSystems.exists(path)
    return os.path.exists(local_path(path))


def size(path: str) -> int | None:
    """Bytes of a file, or None when there is none."""
    if is_remote(path):
        io = _object_io(path)
        if io is not None:
            return io.size(path) if io.exists(path) else None
        found = FileSystems.match([path])[0].metadata_list
        return next((m.size_in_bytes for m in found if m.path == path), None)
    try:
        return os.path.getsize(local_path(path))
    except OSError:
        return None


def match(pattern: str) -> dict[str, int]:
    """Files matching a glob (``*`` stays within one directory) -> their sizes.

    On object stores a listing reads every object under the pattern's literal prefix, so
    patterns here always start with a specific name part (``out/corpus-*``, ``out/0*``),
    never ``out/*``, which would list the whole blob store under ``out/_work/`` too.
    """
    if is_remote(pattern):
        try:
            found = FileSystems.match([pattern])[0].metadata_list
        except Exception:  # noqa: BLE001 (each store raises its own "not found")
            return {}
        return {m.path: m.size_in_bytes for m in found}
    import glob

    return {p: os.path.getsize(p) for p in glob.glob(local_path(pattern)) if os.path.isfile(p)}


def has_any(directory: str) -> bool:
    """Whether anything at all lies under ``directory``."""
    if is_remote(directory):
        try:
            return bool(FileSystems.match([directory.rstrip("/") + "/**"], limits=[1])[0].metadata_list)
        except Exception:  # noqa: BLE001
            return False
    d = local_path(directory)
    return os.path.isdir(d) and bool(os.listdir(d))


def read_bytes(path: str) -> bytes:
    if is_remote(path):
        with open_read(path) as f:
            return f.read()
    with open(local_path(path), "rb") as f:
        return f.read()


def read_json(path: str):
    return json.loads(read_bytes(path))


def open_read(path: str):
    """A binary file object (seekable) for reading."""
    if is_remote(path):
        io = _object_io(path)
        return io.open(path, "rb") if io is not None else FileSystems.open(path, compression_type=RAW)
    return open(local_path(path), "rb")


def write_bytes(path: str, data: bytes) -> None:
    """Write a whole file so that it exists complete or not at all."""
    if is_remote(path):
        with _create(path) as f:
            f.write(data)
        return
    path = local_path(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = temporary_name(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path: str, obj) -> None:
    write_bytes(path, json.dumps(obj, indent=1, sort_keys=True, default=str).encode())


def upload(local_file: str, path: str) -> None:
    """Copy a finished local file to ``path`` (streamed; atomic as :func:`write_bytes`)."""
    if not is_remote(path):
        path = local_path(path)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        tmp = temporary_name(path)
        try:
            shutil.copyfile(local_file, tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return
    with open(local_file, "rb") as fin, _create(path) as fout:
        while chunk := fin.read(CHUNK):
            fout.write(chunk)


def _create(path: str):
    io = _object_io(path)
    return io.open(path, "wb") if io is not None else FileSystems.create(path, compression_type=RAW)


def delete(paths: Iterable[str]) -> None:
    """Delete files that exist (missing ones are fine)."""
    paths = list(paths)
    remote = [p for p in paths if is_remote(p)]
    for p in paths:
        if not is_remote(p):
            try:
                os.remove(local_path(p))
            except FileNotFoundError:
                pass
    if remote:
        remote = [p for p in remote if exists(p)]
        if remote:
            FileSystems.delete(remote)


def delete_tree(directory: str) -> None:
    """Delete a directory and everything under it, on any filesystem (missing is fine)."""
    if is_remote(directory):
        prefix = directory.rstrip("/") + "/"
        if has_any(prefix):
            FileSystems.delete([prefix])
        return
    shutil.rmtree(local_path(directory), ignore_errors=True)


def temporary_name(path: str) -> str:
    """A hidden temporary name beside ``path``: ``.NAME.tmp-RANDOM`` (see :func:`is_temporary`)."""
    d, base = os.path.split(path)
    return os.path.join(d, f".{base}.tmp-{uuid.uuid4().hex[:12]}")


def is_temporary(name: str) -> bool:
    return name.startswith(".") and ".tmp-" in name
