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
import struct
from collections.abc import Sequence

from flamingo.typedconfig import config, opt, require
from pipeline.filter.rules import KEPT, RuleContext, Subject, Verdict, drop, rule

log = logging.getLogger(__name__)


@config
class ClipConfig:
    model: str = opt("", "open_clip architecture (e.g. ViT-B-32); '' turns CLIP scoring off")
    pretrained: str | None = opt(None, "open_clip pretrained tag or local checkpoint; none: random weights (tests only)")
    model_config: str | None = opt(None, "JSON config file or directory registering a custom architecture")
    device: str = opt("cpu", "torch device for scoring")
    batch_size: int = opt(64, "pairs scored per batch", min=1)
    threshold: float | None = opt(None, "keep pairs scoring at least this (DataComp: 0.28 with ViT-L/14)",
                                  min=-1.0, max=1.0)
    top_fraction: float | None = opt(None, "keep this fraction of the job's best-scoring pairs", above=0.0, max=1.0)

    def validate(self) -> None:
        require(self.model != "" or (self.threshold is None and self.top_fraction is None), "model",
                "a CLIP threshold or top fraction needs a model", "pass --clip.model")

    @property
    def enabled(self) -> bool:
        return bool(self.model)

    @property
    def filters(self) -> tuple[str, ...]:
        """The clip rules this config turns on."""
        return (("threshold",) if self.threshold is not None else ()) + (
            ("top_fraction",) if self.top_fraction is not None else ())


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


# --- the same cut over a whole job, in bounded memory (two passes; see beam.pairs.TopFractionCut)
#
# Pass 1 counts scores per bin of their order-preserving 64-bit key's top SCORE_BIN_BITS bits;
# walking the bins from the top finds the bin that holds the ceil(fraction·N)-th best score and
# its rank there; pass 2 collects only that bin's scores (bins are 1/4096 of an octave wide, so
# one holds a small fraction of a job's scores) and picks the exact value. Same result as
# top_fraction_threshold, without one worker holding every score.

SCORE_BIN_BITS = 24


def score_order(score: float) -> int:
    """A 64-bit integer that sorts like the float (IEEE 754 total order, -0.0 < 0.0)."""
    (bits,) = struct.unpack(">Q", struct.pack(">d", float(score)))
    return bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)


def score_bin(score: float) -> int:
    return score_order(score) >> (64 - SCORE_BIN_BITS)


def cut_bin(counts: dict[int, int], fraction: float) -> tuple[int, int] | None:
    """(bin holding the ceil(fraction·N)-th best score, that score's 1-based rank from the top
    of its bin), or None for no scores."""
    n = sum(counts.values())
    if not n:
        return None
    k = max(1, math.ceil(fraction * n - 1e-9))
    seen = 0
    for b in sorted(counts, reverse=True):
        if seen + counts[b] >= k:
            return b, k - seen
        seen += counts[b]
    raise AssertionError("unreachable: k <= n")


def cut_in_bin(scores: Sequence[float], rank: int) -> float:
    return sorted(scores, reverse=True)[rank - 1]


def select(scores: Sequence[float], threshold: float | None = None,
           top_fraction: float | None = None) -> list[bool]:
    """Which pairs to keep; with both rules a pair must pass both."""
    cut = -math.inf if threshold is None else threshold
    if top_fraction is not None:
        cut = max(cut, top_fraction_threshold(scores, top_fraction))
    return [s >= cut for s in scores]


@rule("clip", "threshold")
def _threshold(s: Subject, ctx: RuleContext) -> Verdict:
    return drop("clip_score_below_threshold") if s.score < ctx.config.threshold else KEPT


@rule("clip", "top_fraction")
def _top_fraction(s: Subject, ctx: RuleContext) -> Verdict:
    return drop("clip_score_not_top_fraction") if s.score_cut is not None and s.score < s.score_cut else KEPT
