"""`flamingo train` and `python -m train` end to end on the real tiny model, into a temp dir."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from train_helpers import write_img2dataset_shard, write_shards

from pipeline.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")



def test_flamingo_train_then_resume(tmp_path):
    write_shards(tmp_path / "i", "interleaved")
    pairs = write_img2dataset_shard(tmp_path / "laion-00000.tar")
    cfg = {
        "data": {
            "datasets": [
                {
                    "name": "m3w",
                    "paths": [str(tmp_path / "i" / "*.tar")],
                    "kind": "interleaved",
                    "batch_size": 2,
                },
                {
                    "name": "laion",
                    "paths": [str(pairs)],
                    "kind": "pair",
                    "weight": 0.2,
                    "batch_size": 2,
                },
            ]
        }
    }
    (tmp_path / "run.json").write_text(json.dumps(cfg))
    out = tmp_path / "run"
    common = [
        "train",
        "--preset",
        "tiny",
        "--config",
        str(tmp_path / "run.json"),
        f"--checkpoint.dir={out}",
        "--checkpoint.every=2",
    ]
    assert main(common + ["--steps=2"]) == 0
    assert main(common + ["--steps=3", "--resume"]) == 0
    lines = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in lines] == [1, 2, 3]
    assert {"loss/m3w", "loss/laion", "tokens_per_s", "mfu", "data_wait_frac"} <= set(lines[-1])
    assert any(k.startswith("gate/") for k in lines[-1])
    assert json.loads((out / "config.json").read_text())["data"]["datasets"][1]["name"] == "laion"
    assert (out / "step_00000003" / "COMPLETE").is_file()


def test_python_m_train_help():
    out = subprocess.run(
        [sys.executable, "-m", "train", "--help"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
        check=True,
    )
    assert "--optim.lr" in out.stdout and "--data.datasets" in out.stdout


@pytest.mark.slow
def test_demo_trains_saves_reloads_and_captions(tmp_path):
    from train.demo import run_demo

    write_shards(tmp_path / "i", "interleaved", per_shard=16)
    write_shards(tmp_path / "p", "pair", per_shard=16)
    result = run_demo(
        {"interleaved": [str(tmp_path / "i")], "pairs": [str(tmp_path / "p")]},
        str(tmp_path / "out"),
    )
    losses = result["losses"]
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5
    assert isinstance(result["caption"], str)
