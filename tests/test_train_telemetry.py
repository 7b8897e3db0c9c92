"""MFU counts what runs: the FLOP formula of train/telemetry.py against a hand count of the tiny
config, and against torch's FlopCounterMode on one forward and backward of the real tiny model."""

import pytest
import torch
from model_fixtures import images, open_gates, tiny
from torch.utils.flop_counter import FlopCounterMode

from train.telemetry import FlopModel, flop_model, step_flops

D, DV, FF, N_LAT, PATCHES = 64, 64, 4 * 64, 8, 16  # tiny: LM width, vision width, dense 4x, latents, 4x4 grid


def hand_count() -> FlopModel:
    """The tiny preset, weight by weight (flamingo/config.py: _TINY_LLAMA, _TINY_VIT, _tiny)."""
    kv_dim = 2 * 16  # 2 KV heads x head width 16
    layer = D * D + 2 * D * kv_dim + D * D + 3 * D * 128  # q, k, v, o, gate/up/down (MLP 128)
    lm = 4 * layer + D * 257  # 4 layers + the frozen head over the byte vocabulary
    block = D * D + D * D + 2 * D * FF  # cross-attention q, out, dense in and out
    text = 2 * block + D * 3  # blocks before layers 0 and 2 + head rows of <image>, <|endofchunk|>, <pad>
    media = 2 * DV * 2 * D  # their k/v, on visual tokens
    inner = 4 * 16  # Perceiver: 4 heads x 16
    perceiver_latent = 2 * (DV * inner + inner * DV + 2 * DV * FF)  # 2 layers: q, out, dense
    perceiver_kv = 2 * DV * 2 * inner
    vit_block = 3 * DV * DV + DV * DV + 2 * DV * 128  # in_proj, out_proj, MLP (ratio 2)
    vision = 2 * (2 * vit_block * (PATCHES + 1) + DV * 3 * 8 * 8 * PATCHES + DV * DV)  # + patch conv + proj
    return FlopModel(lm=lm, text=text, media=media, latents=N_LAT, perceiver_latent=perceiver_latent,
                     perceiver_kv=perceiver_kv, patch_tokens=PATCHES, vision_frame=vision)


@pytest.fixture(scope="module")
def model():
    m, _, _ = tiny()
    open_gates(m, 0.5)
    return m.train()


def test_formula_matches_a_hand_count_of_the_tiny_config(model):
    assert flop_model(model) == hand_count()
    h = hand_count()
    tokens, media, frames = 40, 3, 7
    want = (4 * h.lm * tokens  # frozen LM: forward + backward through activations
            + 6 * h.text * tokens + 6 * h.media * media * N_LAT  # trainable: forward + both backward products
            + 6 * (h.perceiver_latent * N_LAT * media + h.perceiver_kv * (frames * PATCHES + media * N_LAT))
            + h.vision_frame * frames)  # vision tower: forward only
    assert step_flops(flop_model(model), tokens, media, frames) == want


def test_formula_equals_what_torch_counts_for_a_training_step(model):
    """Every matrix product of one forward + backward, counted by torch, on an unpadded batch
    (the formula counts real tokens and images only). The fused multi-head-attention fast path
    is turned off so the vision tower's projections show up as countable matmuls."""
    B, L = 2, 20
    ids = torch.randint(0, 256, (B, L), generator=torch.Generator().manual_seed(0))
    ids[:, 0] = model.token_ids.image
    labels = ids.masked_fill(ids == model.token_ids.image, -100)
    before = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with FlopCounterMode(display=False) as counter:
            model(ids, images(B, 1), attention_mask=torch.ones_like(ids), labels=labels).loss.backward()
    finally:
        torch.backends.mha.set_fastpath_enabled(before)
    counted = counter.get_flop_counts()["Global"]
    matmuls = sum(v for op, v in counted.items() if str(op).split(".")[1] in ("mm", "addmm", "bmm", "convolution"))
    assert matmuls == step_flops(flop_model(model), B * L, B, B)
