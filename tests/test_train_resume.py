"""Checkpoints: 10 steps + resume 10 equals 20 uninterrupted, bit for bit; the model trains in train
mode; a resume refuses changed options and renamed datasets; a damaged checkpoint is named and
skipped; a save that fails commits nothing. (The CLI and a kill mid-save: test_train_exact.py.)"""

import json
import logging
from pathlib import Path

import pytest
import torch
from train_helpers import StandInFlamingo, stand_in_components, tiny_config

from flamingo.typedconfig import ConfigError
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


class ModeRecorder(StandInFlamingo):
    """A stand-in that records whether it was in train mode at each forward."""

    seen: list = []

    def forward(self, *args, **kw):
        ModeRecorder.seen.append(self.training)
        return super().forward(*args, **kw)


def test_model_trains_in_train_mode(tmp_path, shards):
    comp = stand_in_components()
    comp.model = ModeRecorder()
    comp.model.eval()
    ModeRecorder.seen = []
    train(tiny_config(tmp_path, shards, steps=2, checkpoint__every=0), comp)
    assert ModeRecorder.seen and all(ModeRecorder.seen)


def test_changed_options_are_refused_on_resume_unless_allowed(tmp_path, shards, caplog):
    train(tiny_config(tmp_path, shards, steps=2), stand_in_components())
    changed = tiny_config(tmp_path, shards, steps=4, checkpoint__resume=True)
    changed.optim.lr = 5e-4
    changed.data.datasets[1].batch_size = 8
    with pytest.raises(ConfigError) as e:
        train(changed, stand_in_components())
    line = e.value.line()
    assert "optim.lr: 0.001 -> 0.0005" in line and "data.datasets[pairs].batch_size: 4 -> 8" in line
    assert "--allow-config-change" in line
    # the refused resume left the run's config.json as it was
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["optim"]["lr"] == 1e-3
    assert not list((tmp_path / "ckpt").glob("config.before_*.json"))
    changed.checkpoint.allow_config_change = True
    with caplog.at_level(logging.WARNING):
        assert len(train(changed, stand_in_components()).losses) == 2
    assert "optim.lr: 0.001 -> 0.0005" in caplog.text
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["optim"]["lr"] == 5e-4
    assert len(list((tmp_path / "ckpt").glob("config.before_*.json"))) == 1  # the first run's, kept


def test_a_renamed_dataset_is_a_clear_error(tmp_path, shards):
    train(tiny_config(tmp_path, shards, steps=2), stand_in_components())
    renamed = tiny_config(tmp_path, shards, steps=4, checkpoint__resume=True)
    renamed.data.datasets[1].name = "other"
    with pytest.raises(ConfigError, match="dataset 'other' has no saved position.*saved dataset 'pairs' is not in"):
        train(renamed, stand_in_components())


def test_another_worker_count_resumes_with_a_warning(tmp_path, shards, caplog):
    train(tiny_config(tmp_path, shards, steps=3), stand_in_components())
    with caplog.at_level(logging.WARNING):
        result = train(tiny_config(tmp_path, shards, steps=5, data__num_workers=2, checkpoint__resume=True),
                       stand_in_components())
    assert not result.exact_resume and len(result.losses) == 2
    assert "1 rank(s) x 2 loader worker(s) (checkpoint: 1 x 0)" in caplog.text and "NOT bit-exact" in caplog.text


def test_a_checkpoint_of_the_older_trainer_is_refused_clearly(tmp_path, shards, caplog):
    train(tiny_config(tmp_path, shards, steps=2), stand_in_components())
    path = tmp_path / "ckpt" / "step_00000002" / "rank_00000.json"
    rank = json.loads(path.read_text())
    rank["data"]["pairs"] = {"num_workers": 0, "consumed": 2, "cursors": {"0": 9}}  # the old layout
    path.write_text(json.dumps(rank))
    marker = path.parent / "COMPLETE"
    files = json.loads(marker.read_text())
    files["files"].pop(path.name)  # an older COMPLETE did not list files either
    marker.write_text(json.dumps(files))
    cfg = tiny_config(tmp_path, shards, steps=3, checkpoint__resume=True)
    with pytest.raises(ConfigError, match="dataset 'pairs' as replay cursors of an older trainer"):
        train(cfg, stand_in_components())
    cfg.checkpoint.allow_config_change = True
    with caplog.at_level(logging.WARNING):
        assert len(train(cfg, stand_in_components()).losses) == 1
    assert "dataset 'pairs' starts its data order afresh" in caplog.text


def test_truncated_checkpoint_file_is_named_and_the_previous_one_used(tmp_path, shards, caplog):
    train(tiny_config(tmp_path, shards, steps=4, checkpoint__every=2), stand_in_components())
    root = tmp_path / "ckpt"
    weights = root / "step_00000004" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        result = train(tiny_config(tmp_path, shards, steps=4, checkpoint__every=2, checkpoint__resume=True),
                       stand_in_components())
    assert f"{weights}: 100 bytes" in caplog.text and "truncated" in caplog.text
    assert result.resumed_from.endswith("step_00000002") and len(result.losses) == 2


def test_a_failed_save_commits_nothing(tmp_path, shards, monkeypatch):
    train(tiny_config(tmp_path, shards, steps=2), stand_in_components())

    def broken(tensors, path, *a, **k):
        if str(path).endswith("optimizer.safetensors"):
            raise OSError(28, "No space left on device")
        return real(tensors, path, *a, **k)

    real = ckpt.save_file
    monkeypatch.setattr(ckpt, "save_file", broken)
    with pytest.raises(OSError, match="No space left"):
        train(tiny_config(tmp_path, shards, steps=4, checkpoint__resume=True), stand_in_components())
    root = tmp_path / "ckpt"
    assert [p.name for p in ckpt.complete(root)] == ["step_00000002"] and not list(root.glob(".step_*"))
    marker = json.loads((root / "step_00000002" / "COMPLETE").read_text())
    assert {"model.safetensors", "optimizer.safetensors", "rank_00000.json", "config.json"} <= set(marker["files"])


def test_incomplete_checkpoint_refused(tmp_path):
    (tmp_path / "step_00000001").mkdir()
    assert ckpt.latest(tmp_path) is None
    with pytest.raises(FileNotFoundError):
        ckpt.load(tmp_path / "step_00000001", None, None, None)
