#!/usr/bin/env bash
# Trainer throughput and MFU for a ~1B Flamingo (random-init TinyLlama-1.1B-shaped LM, frozen,
# bf16 + ViT-L/14-shaped tower, cross-attention every 4th layer) on one GPU, bf16 autocast.
# Prints loader vs model samples/s, tokens/s, images/s and MFU against the GPU's datasheet
# bf16 peak (FLOPs as documented in train/telemetry.py: frozen LM forward + backward through
# activations, trainable parts forward + backward, Perceiver per image, vision tower forward only).
#
#   bench/gpu_train.sh            # on a GPU machine, from the repo root (~3-5 minutes)
#   bench/gpu_train.sh --check    # the same Python path on CPU with the tiny model (seconds)
# Extra arguments go to bench/train.py (e.g. --batch 32 --compile --activation-checkpointing).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=disabled NO_ALBUMENTATIONS_UPDATE=1
if [ "${1:-}" = "--check" ]; then
  shift
  exec "$PY" bench/train.py --size tiny --device cpu --precision bf16 --steps 6 --batch 2 \
    --max-tokens 64 --workers 1 --shard-samples 16 "$@"
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
WORKERS=$(( $(nproc) / 4 > 1 ? $(nproc) / 4 : 1 ))  # per dataset; two datasets
exec "$PY" bench/train.py --size 1b --device cuda --precision bf16 --steps 40 --batch 16 \
  --max-tokens 256 --workers "$WORKERS" --threads 4 --shard-samples 256 "$@"
