"""Two gloo processes share the queries (as under torchrun) and give the one-process results."""

import json
import os
import socket
from pathlib import Path

import eval_support as es
import pytest
import torch
import torch.multiprocessing as mp

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, model_dir, ann, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), HF_HUB_OFFLINE="1")
    torch.set_num_threads(1)
    from pipeline.cli import main

    code = main(["eval", "--checkpoint", model_dir, "--task", "coco", "--data", ann, "--shots", "0,2", "--trials",
                 "2", "--max_new_tokens", "4", "--tokenizer", "python", "--device", "cpu", "--batch_size", "1", "--out", out])
    Path(out, f"rank{rank}.done").write_text(str(code))


def test_two_processes_give_the_single_process_results(tmp_path):
    from pipeline.cli import main

    es.save_tiny_with_open_gates(tmp_path / "model")
    ann = str(es.karpathy(tmp_path / "bench", n_train=6, n_test=5))
    single = tmp_path / "single"
    assert main(["eval", "--checkpoint", str(tmp_path / "model"), "--task", "coco", "--data", ann, "--shots", "0,2",
                 "--trials", "2", "--max_new_tokens", "4", "--tokenizer", "python", "--batch_size", "1",
                 "--out", str(single)]) == 0
    two = tmp_path / "two"
    two.mkdir()
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path / "model"), ann, str(two)), nprocs=2)
    assert [(two / f"rank{r}.done").read_text() for r in range(2)] == ["0", "0"]
    a, b = json.loads((single / "results.json").read_text()), json.loads((two / "results.json").read_text())
    assert b["world_size"] == 2 and a["shots"] == b["shots"]
    for name in sorted(p.name for p in (single / "predictions").iterdir()):
        assert (single / "predictions" / name).read_text() == (two / "predictions" / name).read_text()
