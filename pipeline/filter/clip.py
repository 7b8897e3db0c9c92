"""CLIP-score filtering (DataComp's strongest simple baseline) with open_clip.

The score of a pair is the cosine similarity of the L2-normalised image and text
embeddings, computed with the model's own eval preprocessing and tokenizer, in
batches, on CPU or GPU. Weights are whatever the user names: an open_clip
architecture plus a pretrained tag (``ViT-B-32``, ``laion2b_s34b_b79k``; open_clip
downloads it once into its cache) or a local checkpoint path (``.safetensors`` is
loaded without unpickling). ``model_config`` registers a custom architecture JSON
(a file or a directory of them) before the model is built; the tests use it for a
tiny randomly initialised model, on exactly the code path real weights take.

Selection: a fixed ``threshold`` (DataComp used 0.28 and 0.3 with ViT-L/14) keeps
score >= threshold; a ``top_fraction`` f keeps the ceil(f·N) highest scores of the
whole job (ties at the cut are kept too). See :func:`top_fraction_threshold`.
"""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ClipConfig:
    model: str = ""  # open_clip architecture name; "" disables CLIP scoring
    pretrained: str | None = None  # tag or local checkpoint path; None: random init (tests only)
    model_config: str | None = None  # JSON config file or directory for a custom architecture
    device: str = "cpu"
    batch_size: int = 64
    threshold: float | None = None
    top_fraction: float | None = None

    def __post_init__(self) -> None:
        if self.top_fraction is not None and not 0 < self.top_fraction <= 1:
            raise ValueError(f"top_fraction must be in (0, 1]: {self.top_fraction}")
        if (self.threshold is not None or self.top_fraction is not None) and not self.model:
            raise ValueError("a CLIP threshold or top fraction needs --clip.model")

    @property
    def enabled(self) -> bool:
        return bool(self.model)


class ClipScorer:
    """Scores (image bytes, caption) pairs. Build once per worker; loading a model takes seconds."""

    def __init__(self, model_name: str, pretrained: str | None = None, *, device: str = "cpu",
                 batch_size: int = 64, model_config: str | None = None) -> None:
        import open_clip
        import torch

        if model_config:
            open_clip.add_model_config(model_config)
        if pretrained is None:
            log.warning("CLIP model %s has random weights: scores are meaningless outside tests", model_name)
        self.model, _, self.preprocess = open_clip.create_model_and_transforms(
            model_name, pretrained=pretrained, device=device, pretrained_text=False
        )
        self.model.eval()
        self.tokenizer = open_clip.get_tokenizer(model_name)
        self.device, self.batch_size = torch.device(device), batch_size

    def score(self, images: Sequence[bytes], captions: Sequence[str]) -> list[float]:
        """Cosine similarity per pair, in input order."""
        if len(images) != len(captions):
            raise ValueError("images and captions differ in length")
        out: list[float] = []
        for start in range(0, len(images), self.batch_size):
            end = start + self.batch_size
            out += self._score_batch(images[start:end], captions[start:end])
        return out

    def _score_batch(self, images: Sequence[bytes], captions: Sequence[str]) -> list[float]:
        import torch
        from PIL import Image

        pixels = []
        for data in images:
            with Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP"]) as im:
                pixels.append(self.preprocess(im.convert("RGB")))
        with torch.inference_mode():
            img = self.model.encode_image(torch.stack(pixels).to(self.device))
            txt = self.model.encode_text(self.tokenizer(list(captions)).to(self.device))
            img = img / img.norm(dim=-1, keepdim=True)
            txt = txt / txt.norm(dim=-1, keepdim=True)
            return (img * txt).sum(dim=-1).float().cpu().tolist()


def top_fraction_threshold(scores: Sequence[float], fraction: float) -> float:
    """The score of the ceil(fraction·N)-th best pair: keeping score >= it keeps the top fraction."""
    if not scores:
        return math.inf
    k = max(1, math.ceil(fraction * len(scores) - 1e-9))
    return sorted(scores, reverse=True)[k - 1]


def select(scores: Sequence[float], threshold: float | None = None,
           top_fraction: float | None = None) -> list[bool]:
    """Which pairs to keep; with both rules a pair must pass both."""
    cut = -math.inf if threshold is None else threshold
    if top_fraction is not None:
        cut = max(cut, top_fraction_threshold(scores, top_fraction))
    return [s >= cut for s in scores]


def drop_reason(score: float, threshold: float | None, fraction_cut: float | None) -> str | None:
    """Why a scored pair is dropped, or None to keep it."""
    if threshold is not None and score < threshold:
        return "clip_score_below_threshold"
    if fraction_cut is not None and score < fraction_cut:
        return "clip_score_not_top_fraction"
    return None
