"""Exact resume through the command line: 4 steps, a kill in the middle of the step-6 save, then
``--resume`` to step 8 gives the same weights, AdamW state, RNG states (torch, NumPy, Python),
data positions and losses as 8 steps straight, on the real tiny Flamingo with two loader
workers per dataset; the log holds each step once."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file
from train_helpers import tiny_vocab, write_img2dataset_shard, write_shards

from pipeline.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")

_KILLED = textwrap.dedent("""
    import sys, time, pathlib
    sys.path.insert(0, "tests")
    import torch
    torch.set_num_threads(1)
    from train import checkpoint as ckpt
    def hang(tmp):
        if tmp.name == ".step_00000006.tmp":  # every file written, COMPLETE not yet
            pathlib.Path(sys.argv[1], "saving").write_text("now")
            time.sleep(120)
    ckpt._before_commit = hang
    from pipeline.cli import main
    main(sys.argv[2:])
""")


@pytest.fixture(scope="module")
def run_config(tmp_path_factory):
    root = tmp_path_factory.mktemp("exact")
    write_shards(root / "i", "interleaved", n_shards=3, per_shard=6, vocab=tiny_vocab())  # counted: checked
    pairs = write_img2dataset_shard(root / "laion-00000.tar", n=6)
    cfg = {"data": {"num_workers": 2, "datasets": [
        {"name": "m3w", "paths": [str(root / "i" / "*.tar")], "kind": "interleaved", "batch_size": 2},
        {"name": "laion", "paths": [str(pairs)], "kind": "pair", "weight": 0.2, "batch_size": 2}]}}
    (root / "run.json").write_text(json.dumps(cfg))
    return root / "run.json"


def argv(config, out, *extra):
    return ["train", "--preset", "tiny", "--config", str(config), f"--checkpoint.dir={out}",
            "--checkpoint.every=2", "--checkpoint.keep_last=4", "--steps=8", *extra]


def tensors(path):
    return load_file(str(path))


def same_tensors(a, b):
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def comparable_config(path):
    cfg = json.loads(path.read_text())
    cfg["checkpoint"].pop("dir"), cfg["checkpoint"].pop("resume")
    return cfg


def test_kill_mid_save_then_resume_equals_eight_straight_steps(tmp_path, run_config):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(argv(run_config, straight)) == 0

    proc = subprocess.Popen([sys.executable, "-c", _KILLED, str(tmp_path), *argv(run_config, resumed)],
                            cwd=Path(__file__).parent.parent, env={**os.environ, "PYTHONPATH": "."},
                            start_new_session=True)  # its loader workers die with it (no orphans)
    deadline = time.time() + 120
    while not (tmp_path / "saving").exists():
        assert time.time() < deadline and proc.poll() is None, "the run never reached the step-6 save"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert sorted(p.name for p in resumed.glob("step_*")) == ["step_00000002", "step_00000004"]
    logged = [json.loads(line)["step"] for line in (resumed / "train_log.jsonl").read_text().splitlines()]
    assert logged == [1, 2, 3, 4, 5, 6]  # steps 5 and 6 ran, their checkpoint did not commit

    assert main(argv(run_config, resumed, "--resume")) == 0
    a, b = straight / "step_00000008", resumed / "step_00000008"
    assert same_tensors(tensors(a / "model.safetensors"), tensors(b / "model.safetensors"))
    assert same_tensors(tensors(a / "optimizer.safetensors"), tensors(b / "optimizer.safetensors"))
    assert same_tensors(tensors(a / "rank_00000.safetensors"), tensors(b / "rank_00000.safetensors"))  # torch, NumPy
    ra, rb = (json.loads((d / "rank_00000.json").read_text()) for d in (a, b))
    assert ra == rb  # Python's RNG state and every data position and count
    assert json.loads((a / "trainer.json").read_text()) == json.loads((b / "trainer.json").read_text())
    assert comparable_config(a / "config.json") == comparable_config(b / "config.json")
    rows = {d: [json.loads(line) for line in (d / "train_log.jsonl").read_text().splitlines()]
            for d in (straight, resumed)}
    assert [r["step"] for r in rows[resumed]] == list(range(1, 9))  # each step once: cut back to 4, then 5..8
    assert [r["loss"] for r in rows[resumed]] == [r["loss"] for r in rows[straight]]  # exact float equality
    last = rows[resumed][-1]
    assert {"loss/m3w", "loss/laion", "tokens_per_s", "mfu", "data_wait_frac", "skipped_samples/m3w"} <= set(last)
    assert any(k.startswith("gate/") for k in last)
