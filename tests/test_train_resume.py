"""Checkpoints: 10 steps + resume 10 equals 20 uninterrupted, bit for bit; a kill mid-save is harmless."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from train_helpers import stand_in_components, tiny_config

from train import checkpoint as ckpt
from train.loop import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")



@pytest.mark.parametrize("workers", [0, 2])
def test_ten_plus_ten_equals_twenty(tmp_path, shards, workers):
    full = train(
        tiny_config(
            tmp_path / "a", shards, steps=20, data__num_workers=workers, checkpoint__every=0
        ),
        stand_in_components(),
    )
    first = train(
        tiny_config(tmp_path / "b", shards, steps=10, data__num_workers=workers),
        stand_in_components(),
    )
    # Frozen weights come from the preset; scrambled trainable ones prove the checkpoint's are loaded.
    fresh = stand_in_components()
    with torch.no_grad():
        for p in fresh.model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p))
    second = train(
        tiny_config(
            tmp_path / "b", shards, steps=20, data__num_workers=workers, checkpoint__resume=True
        ),
        fresh,
    )
    assert len(full.losses) == 20 and len(second.losses) == 10
    assert first.losses + second.losses == full.losses  # exact float equality
    assert full.losses[-1] < full.losses[0]


def test_keep_last_and_latest(tmp_path, shards):
    cfg = tiny_config(tmp_path, shards, steps=6, checkpoint__every=2, checkpoint__keep_last=2)
    train(cfg, stand_in_components())
    root = Path(cfg.checkpoint.dir)
    assert sorted(p.name for p in root.glob("step_*")) == ["step_00000004", "step_00000006"]
    assert ckpt.latest(root).name == "step_00000006"
    assert (root / "config.json").is_file() and (root / "train_log.jsonl").is_file()
    names = {p.name for p in ckpt.latest(root).iterdir()}
    assert {
        "model.safetensors",
        "optimizer.safetensors",
        "trainer.json",
        "rank_00000.json",
        "COMPLETE",
    } <= names
    assert not any(n.endswith((".pt", ".pth", ".bin", ".pkl")) for n in names)


_KILLED_SAVE = textwrap.dedent("""
    import sys, time, pathlib
    sys.path.insert(0, "tests")
    from train import checkpoint as ckpt
    from train_helpers import stand_in_components, tiny_config
    import json
    cfg = tiny_config(pathlib.Path(sys.argv[1]), json.loads(sys.argv[2]), steps=4, checkpoint__every=2)
    def hang():
        pathlib.Path(sys.argv[1], "saving").write_text("now")
        if len(list(pathlib.Path(cfg.checkpoint.dir).glob("step_*"))) == 1:
            time.sleep(60)  # the second save hangs here, its files written but not committed
    ckpt._before_commit = hang
    from train.loop import train
    train(cfg, stand_in_components())
""")


def test_kill_during_save_leaves_previous_checkpoint_loadable(tmp_path, shards):
    import json

    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_SAVE, str(tmp_path), json.dumps(shards)],
        cwd=Path(__file__).parent.parent,
    )
    root = tmp_path / "ckpt"
    deadline = time.time() + 60
    while (
        not (root / ".step_00000004.tmp").is_dir()
        or not (tmp_path / "saving").exists()
        or not list(root.glob("step_*"))
    ):
        assert time.time() < deadline and proc.poll() is None, "child never reached the second save"
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert ckpt.latest(root).name == "step_00000002"
    # Resuming picks the complete one and finishes the run.
    result = train(
        tiny_config(tmp_path, shards, steps=4, checkpoint__every=2, checkpoint__resume=True),
        stand_in_components(),
    )
    assert len(result.losses) == 2 and ckpt.latest(root).name == "step_00000004"
    assert not (root / ".step_00000004.tmp").exists()


def test_incomplete_checkpoint_refused(tmp_path):
    (tmp_path / "step_00000001").mkdir()
    assert ckpt.latest(tmp_path) is None
    with pytest.raises(FileNotFoundError):
        ckpt.load(tmp_path / "step_00000001", None, None, None)
