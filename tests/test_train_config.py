"""Training config: presets, a TOML/JSON file over a preset, and flags generated from every field."""

import dataclasses
import json

import pytest

from flamingo import typedconfig as tc
from train import cli
from train import config as C


def test_every_field_has_a_flag():
    flags = {a.option_strings[0] for a in cli.parser("flamingo train")._actions if a.option_strings}
    for section in ("data", "optim", "schedule", "checkpoint", "dist", "log", "model"):
        cls = type(getattr(C.TrainConfig(), section))
        for f in dataclasses.fields(cls):
            assert f"--{section}.{f.name}" in flags
    assert "--steps" in flags and "--precision" in flags


def test_file_then_flags_override_the_preset(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('steps = 7\n[optim]\nlr = 3e-4\n[[data.datasets]]\nname = "m3w"\npaths = ["a/*.tar"]\n')
    cfg = cli.config_from_argv(["--config", str(toml), "--optim.lr=0.01", "--log.tensorboard=false",
                                "--data.max_tokens", "32"])
    assert (cfg.steps, cfg.optim.lr, cfg.log.tensorboard, cfg.data.max_tokens) == (7, 0.01, False, 32)
    assert cfg.data.datasets[0].name == "m3w" and cfg.data.datasets[0].weight == 1.0
    assert cfg.optim.weight_decay == C.PRESETS.get("tiny").optim.weight_decay


def test_dataset_list_flag_takes_json():
    ds = [{"name": "p", "paths": ["x.tar"], "kind": "pair", "weight": 0.2, "batch_size": 16}]
    cfg = cli.config_from_argv([f"--data.datasets={json.dumps(ds)}"])
    assert cfg.data.datasets == [C.DatasetConfig(name="p", paths=["x.tar"], kind="pair", weight=0.2, batch_size=16)]


@pytest.mark.parametrize(("argv", "message"), [
    (["--optim.grad_accum=two"], "--optim.grad_accum: expected an integer, got 'two'"),
    (["--optim.grad_accum=0"], "--optim.grad_accum: 0 is out of range (allowed: >= 1)"),
    (["--optim.lr", "-1"], "--optim.lr: -1.0 is out of range (allowed: > 0.0)"),
    (["--precision", "fp8"], "--precision: 'fp8' is not allowed (choose from bf16, fp32, auto)"),
    (["--optim.learning_rate", "1"], "unknown option --optim.learning_rate"),
    ([], "no datasets configured (add [[data.datasets]] tables"),
])
def test_mistakes_are_refused_with_the_option_named(argv, message):
    with pytest.raises(tc.UsageError) as e:
        cli.config_from_argv(argv)
    assert e.value.line().startswith(message)


def test_unknown_file_fields_and_presets_are_refused(tmp_path):
    with pytest.raises(tc.ConfigError, match="unknown option optim.learning_rate"):
        tc.merge(C.PRESETS.get("tiny"), {"optim": {"learning_rate": 1}})
    with pytest.raises(tc.ConfigError, match="unknown training preset 'nope'"):
        C.PRESETS.get("nope")
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = [")
    with pytest.raises(tc.ConfigError, match="is not valid TOML"):
        cli.config_from_argv(["--config", str(bad)])


def test_presets_are_copies_and_round_trip_through_json(tmp_path):
    cfg = C.PRESETS.get("paper")
    cfg.data.datasets[0].weight = 9
    assert C.PRESETS.get("paper").data.datasets[0].weight == 1.0
    assert [d.weight for d in cfg.data.datasets] == [9, 0.2]
    C.save(cfg, tmp_path / "c.json")
    assert tc.from_dict(C.TrainConfig, json.loads((tmp_path / "c.json").read_text())) == cfg


@pytest.mark.parametrize("flag", ["--allow_config_change", "--allow-config-change"])
def test_resume_flags(flag):
    ds = json.dumps([{"name": "p", "paths": ["x.tar"], "kind": "pair"}])
    cfg = cli.config_from_argv([f"--data.datasets={ds}", "--resume", flag])
    assert cfg.checkpoint.resume and cfg.checkpoint.allow_config_change
    assert not cli.config_from_argv([f"--data.datasets={ds}", "--resume"]).checkpoint.allow_config_change
