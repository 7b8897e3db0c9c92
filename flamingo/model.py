"""Flamingo: frozen vision tower -> Perceiver Resampler -> frozen LM with gated cross-attention.

Shapes: ``B`` batch, ``L`` text length, ``T`` image slots (T_img), ``F`` frames,
``n`` latents, ``Dv`` vision width, ``V`` vocabulary (tokenizer's, new tokens included).

The module is assembled by ``flamingo.factory.build_flamingo`` (which freezes the
backbones once and checks the trainable-parameter count); this file holds the
forward pass, the training-mode rule, optimiser groups and save/load. Generation
lives in ``flamingo.generation``.

Training mode: the frozen vision tower and every frozen LM module stay in eval mode
whatever ``train()`` says: their weights do not change, so dropout in them would
only add noise (most modern LMs have none anyway). Only the new modules switch.
"""

from __future__ import annotations

import inspect
import json
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from flamingo import masking
from flamingo.config import FlamingoConfig
from flamingo.lm import FlamingoLayer, MediaContext
from flamingo.perceiver import PerceiverResampler
from flamingo.tokens import IGNORE_INDEX, TokenIds
from flamingo.typedconfig import to_dict
from flamingo.vision import VisionEncoder, save_tower_weights

CONFIG_FILE = "flamingo_config.json"
WEIGHTS_FILE = "trainable.safetensors"
VISION_FILE = "vision.safetensors"  # a custom tower's pretrained weights (VisionConfig.pretrained), when it has them


@dataclass
class FlamingoOutput:
    loss: torch.Tensor | None
    logits: torch.Tensor  # (B, L, V)


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy in float32; ``labels[t]`` is predicted at t-1.

    A batch with no target at all (every label ignored) gives 0, not the NaN of a mean over
    nothing, with a gradient of zeros, so it cannot poison a step.
    """
    shifted = logits[:, :-1].flatten(0, 1).float()
    targets = labels[:, 1:].flatten()
    total = F.cross_entropy(shifted, targets, ignore_index=IGNORE_INDEX, reduction="sum")
    return total / (targets != IGNORE_INDEX).sum().clamp(min=1)


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, L) -> (B, L): positions count real tokens only, so left padding does not shift them."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


class Flamingo(nn.Module):
    def __init__(
        self,
        *,
        config: FlamingoConfig,
        vision: VisionEncoder,
        perceiver: PerceiverResampler,
        lm: nn.Module,
        context: MediaContext,
        token_ids: TokenIds,
    ) -> None:
        super().__init__()
        self.config = config
        self.token_ids = token_ids
        self.vision = vision
        self.perceiver = perceiver
        self.lm = lm
        self.context = context
        # transformers renamed ``past_key_values`` to ``cache`` (5.x); speak whichever this LM takes
        self._lm_args = set(inspect.signature(lm.forward).parameters)
        self._cache_arg = "cache" if "cache" in self._lm_args else "past_key_values"
        self.flamingo_layers = [m for m in lm.modules() if isinstance(m, FlamingoLayer)]
        trainable = {
            id(m) for m in lm.modules() if any(p.requires_grad for p in m.parameters(recurse=False))
        }
        # frozen LM modules: every module that is not (inside) a trainable one; kept in eval
        self._frozen_lm_modules = [
            m
            for m in lm.modules()
            if not any(id(x) in trainable for x in m.modules()) and not isinstance(m, FlamingoLayer)
        ]
        self.train(False)

    # ------------------------------------------------------------------ modes and params
    def train(self, mode: bool = True) -> Flamingo:
        super().train(mode)
        for m in getattr(self, "_frozen_lm_modules", ()):
            m.training = False
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def num_trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.trainable_parameters())

    def param_groups(self, weight_decay: float) -> list[dict]:
        """Weight decay on cross-attention / dense matrices only; none on the Perceiver
        (as in the paper), gates, norms, biases or the new embedding rows."""
        decay, no_decay = [], []
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            in_xattn = ".xattn." in f".{name}"
            (decay if in_xattn and p.ndim >= 2 else no_decay).append(p)
        return [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]

    def compile(self, *args, **kwargs) -> None:
        """``torch.compile`` by region: each (cross-attention + frozen LM layer) block and the
        Perceiver, with ``torch.compile``'s own arguments; the embeddings, head, loss and the
        frozen vision tower stay eager, and so do the blocks when no gradient is taken
        (generation and evaluation: a KV cache that grows every step would recompile them; the
        Perceiver, called once per prompt, stays compiled). Tested to match eager alone and under
        DDP and FSDP2 (``-m slow``).

        Regional, not the whole model: the blocks repeat, so a layer's graph is compiled once and
        reused by its twins (tiny model on varying batches, cold: 62 s against 165 s), and
        nothing of the wrapped LM's outer forward (masks, caches, output classes) has to trace.
        Inductor fuses each block's elementwise work (norms, activations, rotary, gates,
        residuals, autocast's casts) around the GEMMs. Compiling the whole module instead traced
        with graph breaks and ran slower than eager (bench/README.md, issue 18)."""
        for layer in self.flamingo_layers:
            layer.compiled_run = torch.compile(layer._run, *args, **kwargs)
        self.perceiver.compile(*args, **kwargs)

    def enable_gradient_checkpointing(self, enabled: bool = True) -> None:
        """Recompute each (cross-attention + LM layer) in backward instead of storing activations."""
        for layer in self.flamingo_layers:
            layer.checkpointing = enabled

    # ------------------------------------------------------------------ forward
    def _resample(self, images: torch.Tensor) -> torch.Tensor:
        """(B, T, F, C, H, W) -> (B, T, n, Dv): tower tokens (in the tower's dtype) -> Perceiver."""
        return self.perceiver(self.vision(images).to(self.perceiver.latents.dtype))

    def encode_images(self, images: torch.Tensor, counts: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, F, C, H, W) -> (B, T, n, Dv) visual tokens.

        ``counts`` (B,): how many leading slots of each row hold an image; only those go
        through the vision tower and the Perceiver (a batch padded to its busiest row would
        otherwise encode every empty slot). Empty slots get zeros, which no token attends to.
        """
        b, t = images.shape[:2]
        if counts is None:
            return self._resample(images)
        real = torch.arange(t, device=images.device) < counts.to(images.device)[:, None]  # (B, T)
        if bool(real.all()):
            return self._resample(images)
        if not bool(real.any()):  # no row has an image: nothing to encode
            n, dv = self.perceiver.latents.shape
            return images.new_zeros(b, t, n, dv)
        idx = real.flatten().nonzero().squeeze(1)  # (N,) real slots in (b t) order
        flat = rearrange(images, "b t f c h w -> (b t) f c h w")
        tokens = self._resample(flat[idx][:, None])[:, 0]  # (N, 1, F, ...) -> (N, n, Dv)
        # out of place (index_copy, not an in-place masked write): a plain gradient, and none for zeros
        out = tokens.new_zeros(b * t, *tokens.shape[1:]).index_copy(0, idx, tokens)  # (B*T, n, Dv)
        return rearrange(out, "(b t) n d -> b t n d", b=b)

    def set_context(
        self,
        input_ids: torch.Tensor,
        media: torch.Tensor | None,
        offset: torch.Tensor | None = None,
    ) -> None:
        """Fill the shared context for one LM call on ``input_ids`` (B, L) with media (B, T, n, Dv)."""
        times = masking.text_time(input_ids, self.token_ids.image, offset)  # (B, L)
        if media is None:
            if bool((times > 0).any()):
                raise ValueError("input has <image> tokens but no images were given")
            self.context.clear()
            return
        num_images, n = media.shape[1], media.shape[2]
        masking.check_image_count(times, num_images)
        mask = masking.media_mask(times, num_images, self.config.only_attend_immediate)  # (B, L, T)
        self.context.media = rearrange(media, "b t n d -> b (t n) d")
        self.context.mask = masking.expand_to_latents(mask, n)  # (B, L, T*n)
        self.context.has_media = times > 0

    def run_lm(
        self,
        input_ids,
        media,
        attention_mask=None,
        *,
        offset=None,
        cache=None,
        position_ids=None,
        last_only=False,
    ) -> tuple[torch.Tensor, object]:
        """One call of the wrapped LM with visual context -> (logits, updated KV cache or None)."""
        if position_ids is None and attention_mask is not None:
            position_ids = position_ids_from_mask(attention_mask)
        kwargs = {"use_cache": cache is not None, self._cache_arg: cache}
        if last_only and "logits_to_keep" in self._lm_args:
            kwargs["logits_to_keep"] = 1  # generation needs the last position's logits only
        self.set_context(input_ids, media, offset)
        try:
            out = self.lm(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                **kwargs,
            )
        finally:
            self.context.clear()
        return out.logits, getattr(out, self._cache_arg, None)

    def forward(
        self,
        input_ids: torch.Tensor,
        images: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> FlamingoOutput:
        """input_ids (B, L); images (B, T, F, C, H, W), the k-th <image> of a row uses
        images[row, k-1] (rows with fewer images leave trailing slots unused); labels (B, L)."""
        media = None
        if images is not None:
            counts = (input_ids == self.token_ids.image).sum(1).clamp(max=images.shape[1])  # (B,)
            media = self.encode_images(images, counts)
        logits, _ = self.run_lm(input_ids, media, attention_mask)
        loss = causal_lm_loss(logits, labels) if labels is not None else None
        return FlamingoOutput(loss=loss, logits=logits)

    @torch.no_grad()
    def generate(
        self, input_ids: torch.Tensor, images: torch.Tensor | None = None, **kwargs
    ) -> torch.Tensor:
        """Prompt (B, L) -> prompt + continuation (B, L + new); see ``flamingo.generation.generate``."""
        from flamingo.generation import generate

        return generate(self, input_ids, images, **kwargs)

    # ------------------------------------------------------------------ save / load
    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        names = {id(p): n for n, p in self.named_parameters()}  # tied rows appear once
        return {names[id(p)]: p.detach().contiguous() for p in self.trainable_parameters()}

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write the config (JSON) and the trainable weights (safetensors); backbones are named.
        A custom tower with pretrained weights (a file only this run has) is written beside them
        (``vision.safetensors``) and the saved config names it relative to the folder, so the
        folder alone rebuilds the model."""
        from safetensors.torch import save_file

        os.makedirs(directory, exist_ok=True)
        # temp file then rename: a reader never sees half a file
        weights, config = (
            os.path.join(directory, WEIGHTS_FILE),
            os.path.join(directory, CONFIG_FILE),
        )
        saved = to_dict(self.config)
        files = [weights, config]
        save_file(self.trainable_state_dict(), weights + ".tmp")
        if self.config.vision.custom is not None and self.config.vision.pretrained:
            save_tower_weights(self.vision.visual, os.path.join(directory, VISION_FILE) + ".tmp")
            saved["vision"]["pretrained"] = VISION_FILE
            files.append(os.path.join(directory, VISION_FILE))
        with open(config + ".tmp", "w") as f:
            json.dump(saved, f, indent=2)
        for path in files:
            os.replace(path + ".tmp", path)

    def load_trainable(self, state: dict[str, torch.Tensor]) -> None:
        expected = self.trainable_state_dict()
        if set(state) != set(expected):
            raise ValueError(
                f"weights do not match the model: missing {set(expected) - set(state)}, "
                f"unexpected {set(state) - set(expected)}"
            )
        params = dict(self.named_parameters())
        with torch.no_grad():
            for name, value in state.items():
                params[name].copy_(value)
