"""Pretrain the small vision tower contrastively on captioned images, before Flamingo training.

Flamingo's vision encoder is not random: it was trained contrastively on image-text pairs (a
CLIP-style loss), then frozen. This module does the same at demo scale: an open_clip vision tower
of the project's own config (``flamingo.vision.build_open_clip_tower``) against a small text
encoder (a bag of words, mean-pooled, then a linear map: the captions of the synthetic shapes
benchmark are a count, a colour and a shape in a few phrasings, which word order adds nothing to),
with CLIP's symmetric cross-entropy over in-batch image-caption similarities. Only the image
tower's weights are kept; the trainer then freezes it and trains the Perceiver and the gated
cross-attention on top (``train/see.py``).

One change to CLIP's loss: the benchmark has few distinct scenes (36), so a batch holds several
images of the same scene, and CLIP's one-positive target would push apart captions that are the
same. The target of each image is spread evenly over every caption in the batch that describes
the same scene (and likewise for each caption), as supervised-contrastive variants of CLIP do.

Shapes: ``N`` batch, ``C,H,W`` pixels, ``W_`` words per caption (padded), ``E`` embedding width,
``v`` patch tokens, ``Dv`` tower width.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import random
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from flamingo.typedconfig import config, opt

log = logging.getLogger(__name__)


@config
class TowerConfig:
    steps: int = opt(1000, "contrastive steps (0: keep the random tower)", min=0)
    batch_size: int = opt(64, "image-caption pairs per step", min=2)
    lr: float = opt(1e-3, "peak learning rate (AdamW; warm-up then cosine to 0)", above=0.0)
    warmup: int = opt(20, "warm-up steps", min=0)
    weight_decay: float = opt(0.05, "AdamW weight decay", min=0.0)
    embed_dim: int = opt(64, "joint embedding width", min=2)
    temperature: float = opt(0.07, "initial softmax temperature (learnt, as CLIP's)", above=0.0)
    seed: int = opt(0, "init, batch order", min=0)


class CaptionEncoder(nn.Module):
    """Caption -> unit vector: mean of learnt word vectors, then a linear map. (N, W_) -> (N, E)."""

    def __init__(self, *, vocab_size: int, dim: int, embed_dim: int) -> None:
        super().__init__()
        self.words = nn.EmbeddingBag(vocab_size, dim, mode="mean", padding_idx=0)
        self.proj = nn.Linear(dim, embed_dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.proj(self.words(ids)), dim=-1)


def build_vocab(captions: list[str]) -> dict[str, int]:
    """word -> id, from 1 (0 pads)."""
    vocab: dict[str, int] = {}
    for c in captions:
        for w in c.lower().split():
            vocab.setdefault(w, len(vocab) + 1)
    return vocab


def word_ids(captions: list[str], vocab: dict[str, int]) -> torch.Tensor:
    """(N, W_) ids of the captions' words, 0-padded; unknown words are dropped."""
    rows = [[vocab[w] for w in c.lower().split() if w in vocab] for c in captions]
    width = max(1, max(map(len, rows)))
    return torch.tensor([r + [0] * (width - len(r)) for r in rows])


def contrastive_loss(image: torch.Tensor, text: torch.Tensor, scene: torch.Tensor,
                     logit_scale: torch.Tensor) -> torch.Tensor:
    """CLIP's symmetric loss with every same-``scene`` pair a positive. image, text (N, E) unit
    vectors; scene (N,) ids; with distinct ids it is exactly CLIP's loss."""
    logits = logit_scale.exp() * image @ text.t()  # (N, N)
    same = (scene[:, None] == scene[None, :]).float()
    target = same / same.sum(1, keepdim=True)  # symmetric rows: the same target both ways
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


@dataclass
class TrainSet:
    """The train split in memory: images as the tower sees them, captions, scene ids."""

    images: torch.Tensor  # (N, C, H, W) float, the tower's transform applied
    captions: list[list[str]]  # each image's reference captions
    scenes: torch.Tensor  # (N,) an id per distinct first caption


def load_split(annotation_file: str, transform, split: str = "train") -> TrainSet:
    with open(annotation_file) as f:
        entries = [e for e in json.load(f)["images"] if e["split"] == split]
    root = os.path.dirname(os.path.abspath(annotation_file))
    images = []
    for e in entries:
        with open(os.path.join(root, e.get("filepath", ""), e["filename"]), "rb") as f:
            images.append(transform(Image.open(io.BytesIO(f.read())).convert("RGB")))
    firsts = [e["sentences"][0]["raw"] for e in entries]
    ids = {c: i for i, c in enumerate(sorted(set(firsts)))}
    return TrainSet(torch.stack(images), [[s["raw"] for s in e["sentences"]] for e in entries],
                    torch.tensor([ids[c] for c in firsts]))


def _lr(step: int, cfg: TowerConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)))


@dataclass
class TowerRun:
    losses: list[float]
    seconds: float
    image_proj: nn.Module  # pooled tower output -> joint space (kept for zero-shot checks only)
    text: CaptionEncoder
    vocab: dict[str, int]


def pretrain_tower(visual: nn.Module, data: TrainSet, cfg: TowerConfig) -> TowerRun:
    """Train ``visual`` (an open_clip tower whose forward returns the pooled embedding, or
    (pooled, tokens)) in place against a fresh caption encoder; returns the losses. Each step
    pairs every image with one of its captions, drawn at random."""
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        vocab = build_vocab([c for cs in data.captions for c in cs])
        width = _pooled(visual, data.images[:1]).shape[-1]
        image_proj = nn.Linear(width, cfg.embed_dim, bias=False)
        text = CaptionEncoder(vocab_size=len(vocab) + 1, dim=cfg.embed_dim, embed_dim=cfg.embed_dim)
        logit_scale = nn.Parameter(torch.tensor(math.log(1 / cfg.temperature)))
    params = [*visual.parameters(), *image_proj.parameters(), *text.parameters(), logit_scale]
    visual.requires_grad_(True).train()
    opt_ = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng, flips = random.Random(f"tower/{cfg.seed}"), torch.Generator().manual_seed(cfg.seed)
    order: list[int] = []
    losses = []
    for step in range(cfg.steps):
        if len(order) < cfg.batch_size:
            order += rng.sample(range(len(data.scenes)), len(data.scenes))
        idx, order = order[:cfg.batch_size], order[cfg.batch_size:]
        caps = [rng.choice(data.captions[i]) for i in idx]
        pixels = data.images[idx]  # (N, C, H, W)
        flip = torch.rand(len(idx), generator=flips) < 0.5  # mirrored scenes keep their captions: free extra views
        pixels = torch.where(flip[:, None, None, None], pixels.flip(-1), pixels)
        img = F.normalize(image_proj(_pooled(visual, pixels)), dim=-1)  # (N, E)
        loss = contrastive_loss(img, text(word_ids(caps, vocab)), data.scenes[idx], logit_scale)
        for g in opt_.param_groups:
            g["lr"] = _lr(step, cfg)
        opt_.zero_grad(set_to_none=True)
        loss.backward()
        opt_.step()
        with torch.no_grad():
            logit_scale.clamp_(0, math.log(100))  # CLIP's cap on the inverse temperature
        losses.append(loss.item())
        if step % 50 == 0 or step == cfg.steps - 1:
            log.info("tower step %d/%d: contrastive loss %.3f", step + 1, cfg.steps, losses[-1])
    visual.requires_grad_(False).eval()
    return TowerRun(losses, time.perf_counter() - t0, image_proj.eval(), text.eval(), vocab)


@torch.no_grad()
def zero_shot(visual: nn.Module, run: TowerRun, data: TrainSet, batch: int = 100) -> list[str]:
    """Each image's nearest caption among ``data``'s distinct first captions, CLIP's zero-shot
    classification: how well the pretrained tower alone tells the scenes apart."""
    names = sorted({cs[0] for cs in data.captions})
    text = run.text(word_ids(names, run.vocab))  # (K, E)
    out = []
    for i in range(0, len(data.images), batch):
        img = F.normalize(run.image_proj(_pooled(visual, data.images[i:i + batch])), dim=-1)  # (n, E)
        out += [names[j] for j in (img @ text.t()).argmax(1).tolist()]
    return out


def _pooled(visual: nn.Module, images: torch.Tensor) -> torch.Tensor:
    out = visual(images)
    return out[0] if isinstance(out, tuple) else out  # (N, Dv or E) whatever output_tokens says
