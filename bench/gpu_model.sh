#!/usr/bin/env bash
# ~1B Flamingo, bf16, one GPU: training-step time and peak memory (see bench/gpu_model.py).
# Two layouts: cross-attention before every layer (Flamingo-3B) and every 4th (Flamingo-9B).
# Writes JSON lines to ${OUT:-.}/gpu_model.jsonl. About 3-5 minutes on an H100/H200.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT_FILE="${OUT:-.}/gpu_model.jsonl"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=disabled
$PY -c "import torch; assert torch.cuda.is_available(), 'no GPU'; print(torch.cuda.get_device_name())"
$PY bench/gpu_model.py --every 1 --steps 10 | tee "$OUT_FILE"
$PY bench/gpu_model.py --every 4 --steps 10 | tee -a "$OUT_FILE"
$PY bench/gpu_model.py --every 1 --steps 10 --checkpointing | tee -a "$OUT_FILE"
