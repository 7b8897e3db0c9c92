"""The learns-to-see recipe: train on the synthetic shapes benchmark, then show and measure sight.

1. ``prepare``: write the benchmark (``train.eval.synthetic``: shapes of a colour and a count on
   grey photos, a train and a held-out test split, COCO/Karpathy format) and the train split as
   few-shot documents;
2. ``train_to_see``: pretrain the model's small vision tower contrastively on the train split's
   images and captions (``train.tower``, as Flamingo's encoder was pretrained, CLIP-style, before
   being frozen), then train the ``see`` training preset (the ``see-clip`` model: frozen
   SmolLM2-135M and that tower, frozen) on the documents with the ordinary trainer, each image
   conditioning the caption after it (the preset's ``image_placement="next"``); save the model,
   tower weights included;
3. ``caption_held_out``: caption held-out images of different scenes with a few-shot prompt;
4. ``measure``: few-shot CIDEr on the held-out split, with ``flamingo eval``'s runner, for the
   trained model with the true images, the trained model with every image blanked, and the model
   before training, each over seeded trials.

What the Flamingo stage learns is the Perceiver Resampler and the gated cross-attention reading
the frozen tower's features. If the true-image CIDEr is clearly above the blank-image CIDEr, the
model uses the images. ``SeeConfig(model="see", tower=TowerConfig(steps=0))`` is the earlier
recipe with a random frozen tower, which learnt colour but not shape or count (bench/README.md,
"Learns to see").
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass

import torch

from flamingo.model import VISION_FILE
from flamingo.typedconfig import config, opt, require, section
from train.config import PRESETS, DatasetConfig, TrainConfig
from train.eval.synthetic import ANNOTATION_FILE, SyntheticConfig, write_benchmark, write_document_shards
from train.tower import TowerConfig

log = logging.getLogger(__name__)


@config
class SeeConfig:
    train_images: int = opt(4000, "images in the synthetic train split (5 captions each)", min=16)
    test_images: int = opt(200, "held-out images", min=8)
    repeats: int = opt(1, "documents each train image appears in (reshuffled each time)", min=1)
    min_side: int = opt(24, "smallest object side, percent of the image side (the generator's)", min=5, max=40)
    max_side: int = opt(34, "largest object side, percent of the image side (the generator's)", min=5, max=40)
    phrasing: int = opt(-1, "the caption phrasing of the train documents (0-4; -1: a seeded pick per document)",
                        min=-1, max=4)
    steps: int = opt(300, "training steps (the see preset's)", min=1)
    batch_size: int = opt(4, "documents per step (4 images each)", min=1)
    lr: float = opt(1e-3, "peak learning rate (the gates get 20x)", above=0.0)
    threads: int = opt(0, "torch CPU threads (0: torch's default, one per core)", min=0)
    seed: int = opt(0, "benchmark and data-order seed", min=0)
    model: str = opt("see-clip", "model preset (see: the earlier random-tower one; set tower.steps to 0 with it)")
    tower: TowerConfig = section(TowerConfig, "contrastive pretraining of the vision tower before Flamingo training")

    def validate(self) -> None:
        require(self.min_side <= self.max_side, "min_side", "min_side must not exceed max_side")


def prepare(out_dir: str, cfg: SeeConfig) -> tuple[str, list[str]]:
    """(annotation file, train shard paths), written once; reused when already there. The train
    split becomes few-shot documents (4 images, each followed by ``Output:<caption>``, the
    evaluation's template): a model this small, trained for minutes on one format, does not
    carry a caption format over to another as web-scale training does."""
    bench = os.path.join(out_dir, "shapes")
    ann = os.path.join(bench, ANNOTATION_FILE)
    shards = os.path.join(out_dir, "shapes-documents")
    if not os.path.isfile(ann):
        write_benchmark(bench, SyntheticConfig(train=cfg.train_images, test=cfg.test_images, seed=cfg.seed,
                                               min_side=cfg.min_side, max_side=cfg.max_side))
    tars = sorted(os.path.join(shards, f) for f in os.listdir(shards) if f.endswith(".tar")) \
        if os.path.isdir(shards) else []
    if not tars:
        tars = write_document_shards(shards, ann, repeats=cfg.repeats, seed=cfg.seed,
                                     phrasing=None if cfg.phrasing < 0 else cfg.phrasing)
    return ann, tars


def train_config(cfg: SeeConfig, shards: list[str], checkpoint_dir: str) -> TrainConfig:
    tc = PRESETS.get("see")
    tc.steps, tc.seed, tc.data.seed = cfg.steps, cfg.seed, cfg.seed
    tc.model.preset = cfg.model
    tc.optim.lr = cfg.lr
    tc.checkpoint.dir = checkpoint_dir
    tc.data.datasets = [DatasetConfig(name="shapes", paths=shards, kind="interleaved", weight=1.0,
                                      batch_size=cfg.batch_size)]
    return tc


@dataclass
class SeeRun:
    model_dir: str
    losses: list[float]
    train_seconds: float  # Flamingo training
    components: object  # train.components.Components of the trained model
    tower_losses: list[float]
    tower_seconds: float  # contrastive tower pretraining (0 when skipped)
    tower_zero_shot: dict | None = None


@dataclass
class PretrainedTower:
    weights: str  # safetensors file of the tower's state dict
    losses: list[float]
    seconds: float
    zero_shot: dict | None = None  # held-out attribute accuracy of the tower alone (nearest caption)


def pretrain_vision(out_dir: str, cfg: SeeConfig, annotation_file: str, model_preset: str) -> PretrainedTower:
    """The model preset's tower, from its own seeded init, trained contrastively on the
    benchmark's train split (``train.tower``) and written to ``out_dir/tower/``."""
    from flamingo.config import PRESETS as MODELS
    from flamingo.vision import build_open_clip_tower, save_tower_weights
    from train.eval.attributes import attribute_accuracy
    from train.preprocess import fast_eval_transform
    from train.tower import load_split, pretrain_tower, zero_shot

    model_cfg = MODELS.get(model_preset)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(model_cfg.init_seed)  # as build_flamingo draws it
        visual, transform = build_open_clip_tower(model_cfg.vision)
    transform = fast_eval_transform(transform)
    run = pretrain_tower(visual, load_split(annotation_file, transform), cfg.tower)
    path = os.path.join(out_dir, "tower", VISION_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_tower_weights(visual, path)
    test = load_split(annotation_file, transform, "test")
    acc = attribute_accuracy({"prediction": p, "references": cs}
                             for p, cs in zip(zero_shot(visual, run, test), test.captions))
    log.info("tower: %d contrastive steps (%.0f s), held-out zero-shot colour / shape / count %.2f / %.2f / %.2f",
             len(run.losses), run.seconds, acc["colour"], acc["shape"], acc["count"])
    return PretrainedTower(path, run.losses, run.seconds, acc)


def train_to_see(out_dir: str, cfg: SeeConfig, shards: list[str], annotation_file: str | None = None) -> SeeRun:
    """With ``cfg.tower.steps`` (and the benchmark's ``annotation_file``), pretrain the tower
    first; then train the Flamingo with that tower frozen, and save it (tower included)."""
    from train.components import build_components
    from train.loop import train

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    tc = train_config(cfg, shards, os.path.join(out_dir, "checkpoints"))
    tower = PretrainedTower("", [], 0.0)
    if cfg.tower.steps:
        if annotation_file is None:
            raise ValueError("pretraining the tower needs the benchmark's annotation file")
        tower = pretrain_vision(out_dir, cfg, annotation_file, tc.model.preset)
        tc.model.vision_weights = tower.weights
    comp = build_components(tc.model.flamingo_config())
    t0 = time.perf_counter()
    result = train(tc, comp)
    seconds = time.perf_counter() - t0
    model_dir = os.path.join(out_dir, "model")
    comp.model.save_pretrained(model_dir)
    return SeeRun(model_dir, result.losses, seconds, comp, tower.losses, tower.seconds, tower.zero_shot)


def held_out_pairs(annotation_file: str, n: int = 2) -> list[dict]:
    """``n`` held-out images whose scenes differ in every attribute that can (count, colour, shape)."""
    with open(annotation_file) as f:
        test = [e for e in json.load(f)["images"] if e["split"] == "test"]
    chosen: list[dict] = []
    for e in test:
        if all(all(e["scene"][k] != c["scene"][k] for k in ("colour", "shape")) for c in chosen):
            chosen.append(e)
        if len(chosen) == n:
            break
    return chosen


def caption_held_out(model, tokenizer, transform, annotation_file: str, *, n: int = 2, shots: int = 4,
                     seed: int = 0) -> list[dict]:
    """Few-shot captions (the evaluation's prompt and decoding) of ``n`` held-out images."""
    from train.eval.checkpoints import eval_model
    from train.eval.demos import random_demos
    from train.eval.predict import generate_batch
    from train.eval.prompts import TEMPLATES, build_prompt
    from train.eval.tasks import Paths, load_task

    data = load_task("coco", Paths(annotation_file))
    by_image = {q.image.rsplit("/", 1)[1]: q for q in data.queries}
    em = eval_model(model, tokenizer, transform, device=torch.device("cpu"))
    model.eval()
    out = []
    for entry in held_out_pairs(annotation_file, n):
        q = by_image[entry["filename"]]
        demos = random_demos(data.pool, q, shots, seed)
        prompt = build_prompt(TEMPLATES["captioning"], "captioning", demos, q, text_only=False)
        caption = generate_batch(em, "captioning", [prompt], [[d.image for d in demos] + [q.image]],
                                 num_beams=3, max_new_tokens=20)[0]
        out.append({"image": q.image, "truth": q.references[0], "caption": caption})
    return out



def evaluate_model(model, tokenizer, transform, annotation_file: str, out_dir: str, *, ablation: str,
                   shots: list[int], trials: int, max_queries: int, precision: str, checkpoint: dict) -> dict:
    """One ``flamingo eval``-equivalent run on the held-out split; writes its files to ``out_dir``."""
    from train.eval.checkpoints import eval_model
    from train.eval.config import EvalConfig
    from train.eval.results import write_results
    from train.eval.runner import evaluate
    from train.eval.tasks import Paths, load_task

    cfg = EvalConfig(task="coco", data=annotation_file, shots=shots, trials=trials, max_queries=max_queries,
                     image_ablation=ablation, precision=precision)
    em = eval_model(model, tokenizer, transform, device=torch.device("cpu"), precision=precision, ablation=ablation)
    results = evaluate(cfg, em, load_task("coco", Paths(annotation_file)), out_dir=out_dir, checkpoint=checkpoint)
    write_results(out_dir, results)
    return results


def measure(model_dir: str, annotation_file: str, out_dir: str, *, shots: list[int], trials: int,
            max_queries: int, before: bool = True, precision: str = "fp32") -> dict[str, dict]:
    """Held-out CIDEr per shot count (mean, std, trials) of the trained model with the true images
    (``true``), with every image blanked (``blank``) and, with ``before``, of the same
    configuration untrained (``before``: the frozen LM alone, its gates at zero)."""
    from flamingo.factory import build_flamingo
    from train.eval.checkpoints import load_checkpoint

    loaded = load_checkpoint(model_dir)
    kw = dict(shots=shots, trials=trials, max_queries=max_queries, precision=precision)
    runs = {}
    for name, ablation in (("true", "none"), ("blank", "blank")):
        runs[name] = evaluate_model(loaded.model, loaded.tokenizer, loaded.transform, annotation_file,
                                    os.path.join(out_dir, name), ablation=ablation, checkpoint=loaded.source, **kw)
    if before:
        model, tokenizer, transform = build_flamingo(loaded.model.config)
        runs["before"] = evaluate_model(model, tokenizer, transform, annotation_file, os.path.join(out_dir, "before"),
                                        ablation="none", checkpoint={"path": "untrained " + model_dir}, **kw)
    return {name: r["shots"] for name, r in runs.items()}
