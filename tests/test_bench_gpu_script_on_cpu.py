"""The GPU benchmark's Python path runs on CPU with the tiny preset (no GPU here)."""

import importlib.util
import math
from pathlib import Path

import model_fixtures  # noqa: F401  (offline environment)

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "gpu_model.py"


def test_gpu_bench_runs_tiny_on_cpu():
    spec = importlib.util.spec_from_file_location("gpu_model_bench", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.run(
        ["--tiny", "--batch", "2", "--seq", "40", "--images", "2", "--steps", "2", "--warmup", "1"]
    )
    assert result["device"] == "cpu" and len(result["losses"]) == 2
    assert result["params_trainable"] < result["params_total"]
    assert all(math.isfinite(loss) for loss in result["losses"])
