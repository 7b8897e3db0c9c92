"""`python -m train` and the demo. (`flamingo train` end to end with a kill and a resume:
test_train_exact.py; data that cannot train: test_train_baddata.py.)"""

import subprocess
import sys
from pathlib import Path

import pytest
from train_helpers import write_shards

pytestmark = pytest.mark.usefixtures("one_torch_thread")



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
