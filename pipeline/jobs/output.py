"""One output, one job: what a job checks and claims before it writes into ``--output``.

* :func:`claim` (at launch, before any work): the output is a directory we may write (or a
  bucket prefix), no other job holds its lock, and it holds no other job's files unless
  ``--resume``; then the lock ``_lock.json`` (job, owner, host, pid, start time) is ours
  until :meth:`Claim.release`. A lock whose process is gone on this host is stale and taken
  over with a warning; one from another host names its owner and age, and ``--break_lock``
  takes it over.
* :func:`check_resume`: ``config.json`` records a fingerprint of every option that shapes
  the output (inputs included); ``--resume`` with different ones is refused, naming them.
* :func:`clean_after_success`: the work directory and leftover temporary files go.

Every file goes through :mod:`pipeline.beam.files`, so all of this holds on local disks,
``gs://`` and ``s3://`` alike. On object stores the lock is best effort: Beam's filesystems
have no create-if-absent, so the launcher writes its lock, waits, and reads it back (a
second launcher that wrote in between wins, and the first one refuses).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass

from flamingo.typedconfig import UsageError
from pipeline.beam import files, manifests
from pipeline.shards.manifest import JOB_MANIFEST

log = logging.getLogger(__name__)

LOCK = "_lock.json"
CONFIG = "config.json"
REMOTE_LOCK_SETTLE_S = 2.0


# ----------------------------------------------------------------------------- the lock


@dataclass
class Claim:
    output: str
    token: str

    def release(self) -> None:
        """Remove the lock if it is still ours."""
        path = files.join(self.output, LOCK)
        try:
            if files.read_json(path).get("token") == self.token:
                files.delete([path])
        except Exception:  # noqa: BLE001 (gone already, or unreadable: not ours to fix)
            pass


def _holder(info: dict) -> str:
    started = info.get("started")
    age = f", {_ago(time.time() - started)} ago" if isinstance(started, (int, float)) else ""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if age else "at an unknown time"
    return (f"a {info.get('job', '?')} job (pid {info.get('pid', '?')} on {info.get('host', '?')}, "
            f"user {info.get('owner', '?')}, started {when}{age})")


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600} h {seconds % 3600 // 60} min" if seconds >= 3600 else f"{seconds // 60} min {seconds % 60} s"


def _alive_here(info: dict) -> bool | None:
    """Whether the lock's process still runs: True/False on this host, None elsewhere."""
    if info.get("host") != socket.gethostname() or not isinstance(info.get("pid"), int):
        return None
    try:
        os.kill(info["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_lock(path: str) -> dict | None:
    try:
        info = files.read_json(path)
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 (a half-written or foreign file still means "taken")
        return {} if files.exists(path) else None
    return info if isinstance(info, dict) else {}


def acquire_lock(output: str, job: str, *, break_lock: bool = False) -> Claim:
    path = files.join(output, LOCK)
    info = {"job": job, "owner": _user(), "host": socket.gethostname(), "pid": os.getpid(),
            "started": time.time(), "token": uuid.uuid4().hex}
    held = _read_lock(path)
    if held is not None:
        alive = _alive_here(held)
        if alive is False:
            log.warning("taking over a stale lock on %s: %s is gone", output, _holder(held))
        elif not break_lock:
            stale = " (its process is still running)" if alive else ""
            raise UsageError(f"--output {output} is in use by {_holder(held)}{stale}",
                             "wait for that job to finish; if it is gone, pass --break_lock")
        else:
            log.warning("--break_lock: taking over the lock of %s on %s", _holder(held), output)
        files.delete([path])
    if files.is_remote(path):
        files.write_json(path, info)
        time.sleep(REMOTE_LOCK_SETTLE_S)
        now = _read_lock(path) or {}
        if now.get("token") != info["token"]:
            raise UsageError(f"--output {output} was claimed at the same moment by {_holder(now)}")
        return Claim(output, info["token"])
    local = files.local_path(path)
    try:
        fd = os.open(local, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise UsageError(f"--output {output} was claimed at the same moment by "
                         f"{_holder(_read_lock(path) or {})}") from None
    with os.fdopen(fd, "w") as f:
        json.dump(info, f, indent=1, sort_keys=True)
    return Claim(output, info["token"])


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 (no passwd entry in some containers)
        return str(os.getuid())


# ------------------------------------------------------------------------ launch checks


def claim(output: str, *, job: str, resume: bool, prefix: str, break_lock: bool = False) -> Claim:
    """Check ``--output`` and take its lock (see the module docstring); UsageError if not."""
    if not files.is_remote(output):
        local = files.local_path(output)
        if os.path.exists(local) and not os.path.isdir(local):
            raise UsageError(f"--output {output} is a file", "give a directory")
        try:
            os.makedirs(local, exist_ok=True)
        except OSError as e:
            raise UsageError(f"--output {output}: cannot create it ({e.strerror})") from None
        if not os.access(local, os.W_OK):
            raise UsageError(f"--output {output} is not writable")
    try:
        lock = acquire_lock(output, job, break_lock=break_lock)
    except UsageError:
        raise
    except Exception as e:  # noqa: BLE001 (a bucket we may not write, an unknown scheme, ...)
        raise UsageError(f"--output {output}: cannot write there ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''})") from None
    try:
        if not resume:
            if manifests.any_shards(output, prefix):
                raise UsageError(f"--output {output} already holds shards",
                                 "pass --resume to continue that job, or choose a new directory")
            taken = [n for n in (JOB_MANIFEST, CONFIG) if files.exists(files.join(output, n))]
            if taken:
                raise UsageError(f"--output {output} already holds another job's {taken[0]}",
                                 "pass --resume to continue that job, or choose a new directory")
    except BaseException:
        lock.release()
        raise
    return lock


# -------------------------------------------------------------------------- fingerprint


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def shaping(record: dict, not_shaping: tuple[str, ...]) -> dict:
    """The options of a job's record (``config.json``'s ``inputs``/``config``/...) that shape
    its output, flattened to ``section.field`` names."""
    flat = flatten({k: v for k, v in record.items() if k not in ("output", "work_dir", "beam_args", "fingerprint")})
    return {k: v for k, v in sorted(flat.items())
            if not any(k == f"config.{n}" or k.startswith(f"config.{n}.") for n in not_shaping)}


def fingerprint(shaped: dict) -> str:
    return hashlib.sha256(json.dumps(shaped, sort_keys=True, default=str).encode()).hexdigest()[:16]


def check_resume(output: str, record: dict, not_shaping: tuple[str, ...]) -> None:
    """On ``--resume``: the recorded options that shape the output must equal ours."""
    path = files.join(output, CONFIG)
    if not files.exists(path):
        return  # killed before it wrote anything: nothing to be consistent with
    try:
        old = files.read_json(path)
    except ValueError:
        raise UsageError(f"--resume: {path} is not JSON", "choose a new output directory") from None
    ours, theirs = shaping(record, not_shaping), shaping(old, not_shaping)
    if fingerprint(ours) == old.get("fingerprint") or ours == theirs:
        return
    differ = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
    shown = ", ".join(_option_name(k) for k in differ[:6]) + (", ..." if len(differ) > 6 else "")
    raise UsageError(f"--resume: options that shape the output differ from {CONFIG}: {shown}",
                     "resume with the recorded options (--config OUTPUT/config.json), or use a new output")


def _option_name(key: str) -> str:
    return "--" + key.removeprefix("config.") if key.startswith("config.") else f"--{key}"


SECRET_WORDS = ("secret", "token", "password", "key_id", "credential")


def redact(beam_args: list[str]) -> list[str]:
    """Beam arguments safe to write into the output (credentials masked)."""
    out, hide_next = [], False
    for a in beam_args:
        if hide_next:
            out.append("***")
            hide_next = False
            continue
        name = a.split("=", 1)[0].lower()
        secret = a.startswith("--") and any(w in name for w in SECRET_WORDS)
        if secret and "=" in a:
            out.append(a.split("=", 1)[0] + "=***")
        else:
            out.append(a)
            hide_next = secret
    return out


# ---------------------------------------------------------------------------- clean-up


def clean_after_success(output: str, work_dir: str, keep_work: bool) -> None:
    """The work directory (unless kept) and temporary files a killed earlier run left."""
    if not keep_work:
        files.delete_tree(work_dir)
    if not files.is_remote(output):
        local = files.local_path(output)
        stale = [os.path.join(local, n) for n in os.listdir(local) if files.is_temporary(n)]
        files.delete(stale)
