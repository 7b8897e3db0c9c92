"""The embedded runner's workers forked from a warm zygote (``pipeline.beam.zygote``): each worker
gets its client's arguments, environment, folder and streams, and the client its status; a killed
client takes its worker along; stopping the zygote ends every worker and accounts their CPU
time to the launcher, as fresh worker processes would."""

import os
import resource
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline.beam import zygote as zygote_module
from pipeline.beam.zygote import Zygote
from pipeline.jobs import runner

pytestmark = pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="the zygote is Linux-only")

TARGET = """
import os, sys, time

def main():
    mode = sys.argv[1]
    if mode == "echo":
        print(os.environ.get("ZYG_X"), os.getcwd(), sys.argv[2:], flush=True)
        print("to stderr", file=sys.stderr, flush=True)
        sys.exit(int(sys.argv[2]))
    if mode == "sleep":
        print(os.getpid(), flush=True)
        time.sleep(60)
    if mode == "burn":
        t = time.process_time()
        while time.process_time() - t < float(sys.argv[2]):
            pass
"""


@pytest.fixture
def zygote(tmp_path, monkeypatch):
    (tmp_path / "zygtarget.py").write_text(textwrap.dedent(TARGET))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    z = Zygote.start("zygtarget:main", ["json"])
    assert z is not None
    yield z
    z.stop()


def client(z: Zygote, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([*shlex.split(z.command), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_worker_runs_with_its_clients_arguments_environment_folder_and_streams(zygote, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    p = client(zygote, "echo", "3", "more", env={**os.environ, "ZYG_X": "hello"}, cwd=elsewhere)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 3
    assert out == f"hello {elsewhere} ['3', 'more']\n"
    assert "to stderr" in err


def test_a_killed_client_takes_its_worker_along(zygote):
    p = client(zygote, "sleep")
    pid = int(p.stdout.readline())
    p.kill()
    p.wait()
    assert gone(pid)


def test_a_signal_to_the_client_reaches_the_worker_and_its_status_comes_back(zygote):
    p = client(zygote, "sleep")
    pid = int(p.stdout.readline())
    p.terminate()
    assert p.wait(timeout=30) == 128 + signal.SIGTERM  # the shell's convention for a killed child
    assert gone(pid)


def test_stop_ends_every_worker_and_accounts_their_cpu_time(zygote):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sleeper = client(zygote, "sleep")
    pid = int(sleeper.stdout.readline())
    burner = client(zygote, "burn", "0.5")
    assert burner.wait(timeout=60) == 0
    zygote.stop()
    assert gone(pid)
    assert sleeper.wait(timeout=30) != 0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # the burner's 0.5 s reached this process through the zygote, which reaped it
    assert (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) >= 0.5
    zygote.stop()  # idempotent


def test_the_embedded_runner_forks_its_workers_from_a_zygote_and_ends_it(monkeypatch):
    monkeypatch.delenv("FLAMINGO_WORKER_COMMAND", raising=False)
    started = []
    real_start = Zygote.start

    def start(*args, **kw):
        started.append(real_start(*args, **kw))
        return started[-1]

    monkeypatch.setattr(Zygote, "start", start)
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    with runner.make_pipeline(runner.local_runner_args(["--direct_num_workers=2"])) as p:
        pids = p | beam.Create(range(4)) | beam.Reshuffle() | beam.Map(lambda _: os.getppid())
        assert_that(pids | beam.Distinct(), equal_to([started[0]._process.pid]))
    assert started[0]._lifeline < 0  # stopped after the run
    assert started[0]._process.poll() is not None


def test_the_client_uses_the_standard_library_only():
    """Beam runs the client once per worker: it must not pay for the project's imports."""
    src = Path(zygote_module.__file__).read_text()
    top = [line for line in src.splitlines() if line.startswith(("import ", "from "))]
    assert all(line.split()[1].split(".")[0] in sys.stdlib_module_names or line.startswith("from __future__")
               for line in top), top
