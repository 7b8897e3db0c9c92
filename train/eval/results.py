"""Results as files: ``results.json`` (machine), ``results.md`` (a person's table), predictions.

``results.json`` holds the task, the metric's mean and standard deviation per shot count (the
population std over trials, numpy's default, as OpenFlamingo reports it) with every trial's value
and seed, the pinned prompt template, the decoding settings, the CIDEr tokenizer that ran, the
resolved config and what checkpoint was evaluated. Every prediction is one JSON line in
``predictions/<task>_<k>shot_trial<t>.jsonl`` with its demonstrations and its own score.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np


def summarise(values: Sequence[float]) -> dict:
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "std": float(arr.std()), "trials": [float(v) for v in arr]}


def predictions_path(out_dir: str, task: str, shots: int, trial: int) -> str:
    return os.path.join(out_dir, "predictions", f"{task}_{shots}shot_trial{trial}.jsonl")


def write_predictions(path: str, rows: Sequence[dict]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def table(results: dict) -> str:
    """A Markdown table: one row per shot count."""
    metric = results["metric"]
    extra_names = sorted({k for s in results["shots"].values() for k in s.get("extra", {})})
    head = ["shots", f"{metric} mean", "std", "trials", *extra_names]
    lines = [f"{results['task']} ({results['num_queries']} queries, demonstrations: {results['demos']}, "
             f"checkpoint: {results['checkpoint'].get('path', '')})", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for shots, s in results["shots"].items():
        extra = [f"{s['extra'][k]:.2f}" if k in s.get("extra", {}) else "" for k in extra_names]
        cells = [str(shots), f"{s['mean']:.2f}", f"{s['std']:.2f}", ", ".join(f"{v:.2f}" for v in s["trials"]), *extra]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_results(out_dir: str, results: dict) -> None:
    os.makedirs(out_dir, exist_ok=True)
    for name, text in (("results.json", json.dumps(results, indent=2) + "\n"), ("results.md", table(results))):
        tmp = os.path.join(out_dir, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, os.path.join(out_dir, name))
