"""One output, one job: the lock, what a failure leaves, `flamingo inspect` on an unfinished
job, unique keys for same-name lists, credentials kept out of config.json."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import time

import apache_beam as beam
import pytest

from flamingo.typedconfig import UsageError
from pipeline.jobs import corpus, report, runner
from pipeline.jobs import output as out


def lock_of(tmp_path, **fields) -> None:
    info = {"job": "corpus", "owner": "someone", "host": socket.gethostname(), "pid": os.getpid(),
            "started": time.time() - 300, "token": "t"}
    (tmp_path / "_lock.json").write_text(json.dumps({**info, **fields}))


def test_a_second_job_on_the_same_output_is_refused_while_the_first_runs(tmp_path):
    (tmp_path / "page.html").write_text("<p>x</p>")
    (tmp_path / "out").mkdir()
    sleeper = subprocess.Popen(["sleep", "60"])  # stands for the first job's launcher
    try:
        lock_of(tmp_path / "out", pid=sleeper.pid)
        with pytest.raises(UsageError) as e:
            corpus.run(["--input", str(tmp_path / "page.html"), "--output", str(tmp_path / "out")])
    finally:
        sleeper.kill()
        sleeper.wait()
    line = e.value.line()
    assert line.startswith(f"--output {tmp_path / 'out'} is in use by a corpus job (pid {sleeper.pid} on "
                           f"{socket.gethostname()}, user someone, started "), line
    assert "5 min 0 s ago" in line or "4 min 59 s ago" in line or "5 min 1 s ago" in line
    assert "(its process is still running)" in line and line.endswith("if it is gone, pass --break_lock)")


def test_stale_and_foreign_locks(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock_of(tmp_path, pid=dead.pid)  # this host, process gone: stale, taken over
    claim = out.claim(str(tmp_path), job="corpus", resume=False, prefix="corpus")
    held = json.loads((tmp_path / "_lock.json").read_text())
    assert held["pid"] == os.getpid() and held["token"] == claim.token
    claim.release()
    assert not (tmp_path / "_lock.json").exists()
    lock_of(tmp_path, host="worker-7.example", pid=1)  # another host: cannot tell, so refused
    with pytest.raises(UsageError, match=r"in use by a corpus job \(pid 1 on worker-7.example"):
        out.claim(str(tmp_path), job="pairs", resume=False, prefix="")
    claim = out.claim(str(tmp_path), job="pairs", resume=False, prefix="", break_lock=True)
    assert json.loads((tmp_path / "_lock.json").read_text())["job"] == "pairs"
    claim.release()


@pytest.mark.parametrize("fail_at", ["stats.json", "plots", "report.md", "manifest.json"])
def test_a_failure_at_the_end_leaves_no_job_manifest(tmp_path, monkeypatch, fail_at):
    """A full disk while the job files are written: the manifest.json of an earlier run is gone
    from the start, and the new one is never written, so the output reads as unfinished."""
    output = tmp_path / "out"
    output.mkdir()
    (output / "manifest.json").write_text('{"shards": []}')  # a finished earlier run, resumed
    real = report.files.write_bytes

    def full_disk(path, data):
        if fail_at in path:
            raise OSError(errno.ENOSPC, "No space left on device", path)
        real(path, data)

    monkeypatch.setattr(report.files, "write_bytes", full_disk)
    with pytest.raises(OSError, match="No space left"):
        runner.run_job(job="corpus", output=str(output), work_dir=str(output / "_work"),
                       beam_args=runner.prepare_beam_args(["--runner", "FnApiRunner"]), resume=True,
                       keep_work=False, record={"inputs": [], "config": {}}, not_shaping=(), prefix="corpus",
                       build=lambda p, _: p | beam.Create([({}, {"tokens_per_sequence": {5: 1}})]))
    assert not (output / "manifest.json").exists()
    assert not (output / "_lock.json").exists()  # released on failure too
    assert not [n for n in os.listdir(output) if ".tmp-" in n]


def test_inspect_reports_an_unfinished_job(tmp_path, capsys, corpus_output):
    import shutil

    from pipeline.cli import main

    finished = corpus_output[0]
    assert main(["inspect", str(finished)]) == 0
    killed = tmp_path / "killed"
    shutil.copytree(finished, killed)
    (killed / "manifest.json").unlink()  # what a killed, never-resumed job leaves
    capsys.readouterr()
    assert main(["inspect", str(killed)]) == 1
    assert f"INVALID {killed}: unfinished job: no manifest.json" in capsys.readouterr().out


def test_lists_with_the_same_file_name_give_unique_keys(tmp_path):
    from pipeline.read.urllists import UrlListConfig, file_labels, read_rows

    paths = []
    for d in ("a", "b", "c/a"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "list.tsv").write_text("url\tcaption\nhttps://ex.com/1.jpg\tone\nhttps://ex.com/2.jpg\ttwo\n")
        paths.append(str(tmp_path / d / "list.tsv"))
    (tmp_path / "solo.tsv").write_text("url\tcaption\nhttps://ex.com/1.jpg\tone\n")
    paths.append(str(tmp_path / "solo.tsv"))
    labels = file_labels(paths)
    assert labels[paths[1]] == "b/list.tsv" and labels[paths[2]] == "c/a/list.tsv"
    assert labels[paths[0]].endswith("/a/list.tsv") and len(set(labels.values())) == 4
    assert labels[paths[3]] == "solo.tsv"  # a unique file name stays the label, as before
    keys = [r.key for p in paths for r in read_rows(p, UrlListConfig(), labels[p])]
    assert len(keys) == len(set(keys)) == 7


def test_credentials_never_reach_config_json():
    args = ["--s3_secret_access_key=abc", "--s3_access_key_id", "AKIA", "--s3_session_token=tok",
            "--project", "p"]
    assert out.redact(args) == ["--s3_secret_access_key=***", "--s3_access_key_id", "***",
                                "--s3_session_token=***", "--project", "p"]


@pytest.mark.slow
def test_a_real_full_disk_while_plotting_leaves_no_job_manifest(tmp_path, sample_crawl, corpus_output):
    """The output on a tmpfs just big enough for the shards and stats.json (root: a private
    mount namespace); the plots do not fit."""
    import math
    import shlex
    import sys

    from harness import private_tmp_supported

    if not private_tmp_supported():
        pytest.skip("needs unshare -m and mount (root)")
    finished = corpus_output[0]
    fits = sum(math.ceil(p.stat().st_size / 4096) * 4 for p in finished.rglob("*")
               if p.is_file() and "plots" not in p.parts and p.name not in ("report.md", "manifest.json"))
    disk = tmp_path / "disk"
    disk.mkdir()
    code = (f"from pipeline.jobs import corpus; corpus.run(['--input', {str(sample_crawl)!r}, '--output', "
            f"{str(disk)!r}, '--work_dir', {str(tmp_path / 'work')!r}, '--samples_per_shard', '4', "
            "'--runner', 'FnApiRunner'])")
    script = (f"mount -t tmpfs -o size={fits + 12}k full {shlex.quote(str(disk))} && "
              f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}; echo exit=$?; ls -A {shlex.quote(str(disk))}")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": root})
    lines = done.stdout.split()
    assert "exit=1" in lines, done.stderr[-3000:]
    assert "No space left on device" in done.stderr
    listing = lines[lines.index("exit=1") + 1:]
    assert "stats.json" in listing and "corpus-00000.tar" in listing  # it got as far as the plots
    assert "manifest.json" not in listing and "_lock.json" not in listing
