"""Pooled vision-tower embeddings of a dataset's images, cached on disk by dataset and model.

The cache file is ``<cache_dir>/<model id>/<dataset id>.safetensors`` (the embeddings, float32,
with the example keys in its metadata). The model id hashes the vision tower's config and its
weights, the dataset id the examples' keys, image paths, file sizes and modification times, so
a changed tower or a changed image never reuses stale embeddings. Files are written to a
temporary name and renamed, so concurrent processes (torchrun ranks) can share a cache folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence

import numpy as np
import torch

from train.eval.tasks import Example

log = logging.getLogger(__name__)


def default_cache_dir() -> str:
    """``$XDG_CACHE_HOME/flamingo-kit/rices`` (``~/.cache/...`` without it)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "flamingo-kit", "rices")


def model_id(vision: torch.nn.Module, vision_config: dict) -> str:
    h = hashlib.sha256(json.dumps(vision_config, sort_keys=True).encode())
    for name, t in sorted(vision.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def dataset_id(examples: Sequence[Example]) -> str:
    h = hashlib.sha256()
    for e in examples:
        st = os.stat(e.image)
        h.update(f"{e.key}\0{os.path.abspath(e.image)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


@torch.no_grad()
def embed(examples: Sequence[Example], pooled: Callable[[torch.Tensor], torch.Tensor], load_image: Callable,
          batch_size: int = 32, device: torch.device | str = "cpu") -> np.ndarray:
    """(N, E) float32 embeddings; ``load_image(path)`` gives the tower's (C, H, W) input."""
    out = []
    for i in range(0, len(examples), batch_size):
        batch = torch.stack([load_image(e.image) for e in examples[i:i + batch_size]]).to(device)
        out.append(pooled(batch).float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def cached_embeddings(examples: Sequence[Example], *, cache_dir: str, model_key: str, compute: Callable[[], np.ndarray]
                      ) -> np.ndarray:
    """The examples' embeddings from the cache, or ``compute()`` them and store them."""
    from safetensors.numpy import load_file, save_file

    path = os.path.join(cache_dir, model_key, dataset_id(examples) + ".safetensors")
    keys = [e.key for e in examples]
    if os.path.isfile(path):
        from safetensors import safe_open

        with safe_open(path, "np") as f:
            stored = json.loads(f.metadata().get("keys", "[]"))
        if stored == keys:
            log.info("RICES embeddings from cache %s", path)
            return load_file(path)["embeddings"]
    emb = compute().astype(np.float32)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    save_file({"embeddings": np.ascontiguousarray(emb)}, tmp, metadata={"keys": json.dumps(keys)})
    os.replace(tmp, path)
    log.info("RICES embeddings cached in %s", path)
    return emb
