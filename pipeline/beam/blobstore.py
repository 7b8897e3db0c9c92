"""A content-addressed blob store for image bytes between job stages.

Image bytes never pass through a Beam shuffle: the stage that reads or fetches an
image writes it here under a name derived from its content or URL, and only the name
travels with the documents; the shard writer reads the bytes back. Writes are
idempotent (same name, same bytes), so Beam retries are harmless, and atomic
(temporary name, then rename) on local disks. Remote roots (``gs://``, ``s3://``) go
through Beam's FileSystems, whose object stores publish an object only once complete.
"""

from __future__ import annotations

import os
import uuid


def _is_remote(root: str) -> bool:
    return "://" in root and not root.startswith("file://")


def blob_path(root: str, name: str) -> str:
    return f"{root.rstrip('/')}/{name[:2]}/{name}"


def put_blob(root: str, name: str, data: bytes) -> str:
    path = blob_path(root, name)
    if _is_remote(root):
        from apache_beam.io.filesystems import FileSystems

        if not FileSystems.exists(path):
            with FileSystems.create(path) as f:
                f.write(data)
        return path
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


def get_blob(root: str, name: str) -> bytes:
    path = blob_path(root, name)
    if _is_remote(root):
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.open(path) as f:
            return f.read()
    with open(path, "rb") as f:
        return f.read()
