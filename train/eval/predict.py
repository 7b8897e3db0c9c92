"""One batch of few-shot queries through the model: prompts -> ids and images -> answers or scores.

Shapes: ``B`` queries in the batch, ``T`` images per prompt (demonstrations + the query; 1 at
zero-shot), ``L`` prompt tokens, ``C`` classes.

Prompts are tokenised with the trainer's own layout encoder (``train.collate.encode_layout``:
``<image>`` and ``<|endofchunk|>`` placed by id, no BOS, as the training sequences are written),
left-padded for generation. Captions and VQA answers come from ``flamingo.generation`` (beam
search, stopping at ``<|endofchunk|>``); classification ranks class names by the summed
log-likelihood of their tokens after the prompt (optionally divided by their length), computed
for every class in full forward passes of ``prompt + class name`` rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from train.collate import Vocab, encode_layout
from train.eval.metrics.vqa import postprocess_answer
from train.eval.tasks import CAPTIONING, VQA


@dataclass
class EvalModel:
    """What evaluation needs of a model: the module, its tokenizer and token ids, its image input."""

    model: torch.nn.Module
    tokenizer: object
    vocab: Vocab
    load_image: Callable[[str], torch.Tensor]  # path -> (C, H, W), the tower's preprocessing
    device: torch.device
    autocast: Callable = contextlib.nullcontext  # a context factory (bf16 autocast or nothing)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)


def left_pad(rows: Sequence[Sequence[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of ids -> (B, L) ids and attention mask, padded on the left."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = torch.tensor(list(r), dtype=torch.long)
        mask[i, width - len(r):] = 1
    return ids, mask


def image_batch(em: EvalModel, paths: Sequence[Sequence[str]]) -> torch.Tensor:
    """Per row, its image paths in prompt order -> (B, T, F=1, C, H, W)."""
    return torch.stack([torch.stack([em.load_image(p) for p in row]) for row in paths])[:, :, None]


def clean_generation(kind: str, text: str) -> str:
    """What is scored: the caption before any "Output" the model went on to write (OpenFlamingo's
    ``postprocess_captioning_generation``), or the VQA answer (``postprocess_vqa_generation``)."""
    if kind == VQA:
        return postprocess_answer(text).strip()
    return text.split("Output", 1)[0].strip()


@torch.no_grad()
def generate_batch(em: EvalModel, kind: str, prompts: Sequence[str], paths: Sequence[Sequence[str]], *,
                   num_beams: int, max_new_tokens: int) -> list[str]:
    rows = [encode_layout(p, em.vocab) for p in prompts]
    ids, mask = left_pad(rows, em.vocab.pad)
    images = image_batch(em, paths).to(em.device)
    with em.autocast():
        out = em.model.generate(ids.to(em.device), images, attention_mask=mask.to(em.device),
                                max_new_tokens=max_new_tokens, num_beams=num_beams)
    return [clean_generation(kind, em.decode(row[ids.shape[1]:].tolist())) for row in out]


@torch.no_grad()
def class_scores(em: EvalModel, prompt: str, paths: Sequence[str], class_names: Sequence[str], *,
                 chunk: int = 32, length_normalize: bool = False) -> list[float]:
    """Log-likelihood of each class name after one query's prompt, (C,) in ``class_names`` order."""
    prompt_ids = encode_layout(prompt, em.vocab)
    images = image_batch(em, [paths]).to(em.device)  # (1, T, 1, C, H, W)
    scores: list[float] = []
    for start in range(0, len(class_names), chunk):
        names = class_names[start:start + chunk]
        conts = [em.vocab.encode(n) for n in names]
        width = len(prompt_ids) + max(len(c) for c in conts)
        ids = torch.full((len(names), width), em.vocab.pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, c in enumerate(conts):  # right-padded: every row shares the prompt's positions
            ids[i, : len(prompt_ids) + len(c)] = torch.tensor(prompt_ids + c)
            mask[i, : len(prompt_ids) + len(c)] = 1
        with em.autocast():
            logits = em.model(ids.to(em.device), images.expand(len(names), *images.shape[1:]),
                              attention_mask=mask.to(em.device)).logits
        logp = torch.log_softmax(logits.float(), dim=-1).cpu()  # (C, L, V)
        for i, c in enumerate(conts):
            pos = torch.arange(len(prompt_ids), len(prompt_ids) + len(c))
            total = float(logp[i, pos - 1, torch.tensor(c)].sum())  # token t is predicted at t-1
            scores.append(total / len(c) if length_normalize else total)
    return scores


def is_generation(kind: str) -> bool:
    return kind in (CAPTIONING, VQA)
