"""The one place that turns a directory into a model for evaluation (adapt it when formats change).

Accepted:

* a ``Flamingo.save_pretrained`` directory (``flamingo_config.json`` + ``trainable.safetensors``),
  e.g. what ``flamingo demo`` saves;
* a trainer checkpoint ``step_XXXXXXXX/`` (``model.safetensors`` + ``COMPLETE``), whose parent
  holds the run's ``config.json`` naming the model preset;
* a trainer's checkpoint folder: its latest complete step.

The frozen backbones are rebuilt from the config (named weights or seeded random init), then the
trainable weights are loaded from safetensors; nothing is unpickled.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from flamingo.model import CONFIG_FILE as SAVED_CONFIG
from flamingo.model import WEIGHTS_FILE as SAVED_WEIGHTS
from flamingo.typedconfig import UsageError
from train.collate import Vocab
from train.eval.predict import EvalModel

STEP_WEIGHTS, STEP_MARKER, RUN_CONFIG = "model.safetensors", "COMPLETE", "config.json"


@dataclass
class Loaded:
    model: torch.nn.Module
    tokenizer: object
    transform: Callable
    source: dict  # what was loaded, for results files


def _latest_step(root: Path) -> Path | None:
    steps = sorted(p for p in root.glob("step_*") if (p / STEP_MARKER).is_file() and (p / STEP_WEIGHTS).is_file())
    return steps[-1] if steps else None


def resolve_checkpoint(path: str) -> tuple[str, Path]:
    """(kind, directory): ``saved`` or ``step``; a UsageError when it is neither."""
    p = Path(path)
    if not p.is_dir():
        raise UsageError(f"checkpoint {path} is not a directory", "give a saved model or a trainer checkpoint")
    if (p / SAVED_CONFIG).is_file():
        return "saved", p
    if (p / STEP_MARKER).is_file() and (p / STEP_WEIGHTS).is_file():
        return "step", p
    latest = _latest_step(p)
    if latest is not None:
        return "step", latest
    raise UsageError(f"{path} holds no model", f"expected {SAVED_CONFIG} (save_pretrained) or "
                     f"step_XXXXXXXX/{STEP_MARKER} (a trainer checkpoint)")


def load_checkpoint(path: str) -> Loaded:
    from safetensors.torch import load_file

    from flamingo.factory import build_flamingo, read_saved_config
    from flamingo.typedconfig import from_dict
    from train.config import ModelConfig

    kind, d = resolve_checkpoint(path)
    if kind == "saved":
        config = read_saved_config(d)
        weights = d / SAVED_WEIGHTS
        source = {"path": str(d), "format": "save_pretrained"}
    else:
        run = d.parent / RUN_CONFIG
        if not run.is_file():
            raise UsageError(f"{d} has no {RUN_CONFIG} beside it", "evaluate a checkpoint inside its run folder")
        model_cfg = from_dict(ModelConfig, json.loads(run.read_text())["model"])
        preset = model_cfg.preset
        config = model_cfg.flamingo_config()
        weights = d / STEP_WEIGHTS
        source = {"path": str(d), "format": "trainer checkpoint", "model_preset": preset,
                  "step": json.loads((d / STEP_MARKER).read_text()).get("step")}
    model, tokenizer, transform = build_flamingo(config)
    try:
        model.load_trainable(load_file(str(weights)))
    except ValueError as e:
        raise UsageError(f"{weights} does not fit the model its config builds: {e}", "wrong checkpoint?") from None
    return Loaded(model.eval(), tokenizer, transform, source)


def image_loader(transform: Callable, ablation: str = "none", cache: int = 256) -> Callable[[str], torch.Tensor]:
    """path -> the tower's input (C, H, W), the last ``cache`` memoised (demonstrations repeat
    across queries; 256 images of 224 px hold 150 MB); with
    ``ablation="blank"`` every image is the same uniform grey picture."""
    if ablation == "blank":
        grey = transform(Image.new("RGB", (224, 224), (128, 128, 128)))
        return lambda path: grey

    @functools.lru_cache(maxsize=cache)
    def load(path: str) -> torch.Tensor:
        with Image.open(path) as im:
            return transform(im.convert("RGB"))

    return load


def eval_model(model: torch.nn.Module, tokenizer, transform: Callable, *, device: torch.device,
               precision: str = "fp32", ablation: str = "none") -> EvalModel:
    """Wrap a model (its ``token_ids`` give the special tokens) for :func:`train.eval.runner.evaluate`."""
    ids = model.token_ids
    vocab = Vocab(encode=lambda text: tokenizer(text, add_special_tokens=False)["input_ids"], image=ids.image,
                  end_of_chunk=ids.end_of_chunk, pad=ids.pad, eos=ids.eos)
    bf16 = precision == "bf16"
    return EvalModel(model=model.to(device), tokenizer=tokenizer, vocab=vocab,
                     load_image=image_loader(transform, ablation), device=device,
                     autocast=lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16))
