"""Data that cannot train stops the run within seconds with one line naming the dataset and why
(exit code 1), through `flamingo train`: every sample corrupt, every sample of another kind, empty
shards, sequences longer than data.max_tokens. One case runs as a real process to show the exit
code and that the error is the last and only error line."""

import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from train_helpers import write_shards, write_tar

from pipeline.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def corrupt_shards(root: Path) -> list[str]:
    paths = []
    for s in range(2):
        members = [(f"k{s}{i:03d}.json", b"{not json") for i in range(8)]
        paths.append(str(write_tar(root / f"bad-{s}.tar", members)))
    return paths


def empty_shards(root: Path) -> list[str]:
    paths = []
    for s in range(2):
        with tarfile.open(root / f"empty-{s}.tar", "w"):
            pass
        paths.append(str(root / f"empty-{s}.tar"))
    return paths


def run_cli(tmp_path, name, kind, paths, *extra):
    cfg = {"data": {"datasets": [{"name": name, "paths": paths, "kind": kind, "batch_size": 2}]}}
    (tmp_path / "run.json").write_text(json.dumps(cfg))
    return ["train", "--preset", "tiny", "--config", str(tmp_path / "run.json"),
            f"--checkpoint.dir={tmp_path / 'out'}", "--steps=3", *extra]


CASES = {
    "corrupt": ("interleaved", corrupt_shards, [],
                "dataset 'broken': no valid sample in the first 200 a loader worker read (200 invalid_sample)"),
    "wrong_kind": ("pair", lambda root: write_shards(root, "interleaved"), ["--data.num_workers=2"],
                   "dataset 'broken': no valid sample in the first 200 a loader worker read (200 unexpected_kind)"),
    "empty": ("interleaved", empty_shards, [], "dataset 'broken': its 2 shard(s) hold no samples"),
    "too_long": ("interleaved", lambda root: write_shards(root, "interleaved"), ["--data.max_tokens=30"],
                 "dataset 'broken': sequence "),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_data_stops_within_seconds_with_one_line(tmp_path, capsys, case):
    kind, make, extra, message = CASES[case]
    argv = run_cli(tmp_path, "broken", kind, make(tmp_path), *extra)
    t = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - t
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("flamingo train: error:")]
    assert code == 1 and len(errors) == 1, err
    assert errors[0].startswith(f"flamingo train: error: {message}"), errors[0]
    assert elapsed < 30  # seconds, on a loaded 2-core machine; ~1-3 s when quiet
    if case == "too_long":
        assert "data.max_tokens=30" in errors[0] and "--data.truncate" in errors[0]


@pytest.mark.slow  # ~10 s of interpreter start; the in-process cases above check the same code and line
def test_as_a_process_the_error_is_the_last_line_and_exit_code_1(tmp_path):
    argv = run_cli(tmp_path, "broken", "pair", write_shards(tmp_path, "interleaved"))
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", *argv], capture_output=True, text=True,
                         cwd=Path(__file__).parent.parent, env={**os.environ, "PYTHONPATH": "."}, timeout=300)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 1
    assert lines[-1].startswith("flamingo train: error: dataset 'broken': no valid sample in the first 200")
    assert "Traceback" not in out.stderr
    skipped = [line for line in lines if "skipping sample" in line]
    assert len(skipped) == 3  # the first three in full; the rest only counted (in the error line)
