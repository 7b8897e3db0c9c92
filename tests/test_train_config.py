"""Config: presets, a TOML/JSON file over a preset, and flags generated from every field."""

import argparse
import dataclasses
import json

import pytest

from pipeline.cli import build_parser
from train import config as C


def _parser():
    p = argparse.ArgumentParser()
    C.add_override_flags(p)
    return p


def test_every_field_has_a_flag():
    flags = {
        a.option_strings[0]
        for a in _parser()._actions
        if a.option_strings and a.dest.startswith("override:")
    }
    for section in ("data", "optim", "schedule", "checkpoint", "dist", "log", "model"):
        cls = type(getattr(C.TrainConfig(), section))
        for f in dataclasses.fields(cls):
            assert f"--{section}.{f.name}" in flags
    assert "--steps" in flags and "--precision" in flags


def test_file_then_flags_override_the_preset(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text(
        'steps = 7\n[optim]\nlr = 3e-4\n[[data.datasets]]\nname = "m3w"\npaths = ["a/*.tar"]\n'
    )
    args = _parser().parse_args(
        ["--optim.lr=0.01", "--log.tensorboard=false", "--data.max_tokens", "32"]
    )
    cfg = C.resolve("tiny", str(toml), args)
    assert (
        cfg.steps == 7
        and cfg.optim.lr == 0.01
        and cfg.log.tensorboard is False
        and cfg.data.max_tokens == 32
    )
    assert cfg.data.datasets[0].name == "m3w" and cfg.data.datasets[0].weight == 1.0
    assert cfg.optim.weight_decay == C.get_preset("tiny").optim.weight_decay


def test_dataset_list_flag_takes_json():
    ds = [{"name": "p", "paths": ["x.tar"], "kind": "pair", "weight": 0.2, "batch_size": 16}]
    cfg = C.resolve("tiny", None, _parser().parse_args([f"--data.datasets={json.dumps(ds)}"]))
    assert cfg.data.datasets == [
        C.DatasetConfig(name="p", paths=["x.tar"], kind="pair", weight=0.2, batch_size=16)
    ]


def test_mistakes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown fields"):
        C.merge(C.get_preset("tiny"), {"optim": {"learning_rate": 1}})
    with pytest.raises(ValueError, match="datasets is empty"):
        C.resolve("tiny", None, None)
    with pytest.raises(SystemExit):
        _parser().parse_args(["--optim.grad_accum=two"])
    with pytest.raises(KeyError):
        C.get_preset("nope")


def test_presets_are_copies_and_round_trip_through_json(tmp_path):
    cfg = C.get_preset("paper")
    cfg.data.datasets[0].weight = 9
    assert C.PRESETS["paper"].data.datasets[0].weight == 1.0
    assert [d.weight for d in cfg.data.datasets] == [9, 0.2]
    C.save(cfg, tmp_path / "c.json")
    assert C.from_dict(C.TrainConfig, json.loads((tmp_path / "c.json").read_text())) == cfg


def test_flamingo_train_is_a_subcommand():
    args = build_parser().parse_args(["train", "--preset", "tiny", "--optim.lr=0.5"])
    assert args.command == "train" and vars(args)["override:optim.lr"] == 0.5
