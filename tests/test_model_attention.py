"""flamingo.attention: the matrix-product path equals SDPA, and each part takes the right kernel."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from model_fixtures import encode, images, open_gates, tiny
from transformers import DynamicCache

from flamingo.attention import LM_ATTENTION, attention, product_attention, use_products
from flamingo.config import PRESETS
from flamingo.factory import build_flamingo
from flamingo.lm import load_lm


def qkv(seed: int, q_len: int = 7, k_len: int = 7, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(2, 3, n, 8, generator=g).to(dtype) for n in (q_len, k_len, k_len))


@pytest.mark.parametrize("kind", ["none", "bool", "float", "causal"])
def test_product_path_equals_sdpa_in_fp32(kind):
    q, k, v = qkv(0)
    g = torch.Generator().manual_seed(1)
    mask = {
        "none": None,
        "bool": torch.rand(2, 1, 7, 7, generator=g) > 0.3,
        "float": torch.randn(2, 1, 7, 7, generator=g),
        "causal": None,
    }[kind]
    if kind == "bool":
        mask[..., 0] = True  # every query sees a key: SDPA's output is defined
    causal = kind == "causal"
    ours = product_attention(q, k, v, mask, is_causal=causal)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


def test_a_query_that_sees_no_key_gets_a_finite_answer():
    q, k, v = qkv(2)
    mask = torch.ones(2, 1, 7, 7, dtype=torch.bool)
    mask[:, :, 3] = False  # query 3 sees nothing (e.g. a row of left padding)
    out = product_attention(q, k, v, mask)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[:, :, 3], v.mean(2))  # uniform over the keys, as any finite choice


def test_bf16_on_cpu_takes_products_and_stays_close_to_fp32_sdpa():
    q, k, v = qkv(3, q_len=16, k_len=9)
    mask = torch.ones(2, 1, 16, 9, dtype=torch.bool).tril()
    mask[..., 0] = True
    assert use_products(q.bfloat16()) and not use_products(q)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert use_products(q)  # an fp32 query under bf16 autocast: SDPA would run it in bf16
        out = attention(q, k, v, mask)
    assert out.dtype == torch.bfloat16
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out.float(), ref, atol=3e-2, rtol=3e-2)


def lm_pair():
    """The tiny preset's LM as load_lm builds it (our attention) and the same weights on SDPA."""
    cfg = PRESETS.get("tiny").lm
    ours = load_lm(cfg).eval()
    ref = load_lm(cfg).eval()
    ref.load_state_dict(ours.state_dict())
    ref.set_attn_implementation("sdpa")
    assert ours.config._attn_implementation == LM_ATTENTION
    return ours, ref


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_lm_attention_matches_sdpa_with_left_padding(precision):
    ours, ref = lm_pair()
    ids = torch.randint(0, 250, (3, 12), generator=torch.Generator().manual_seed(4))
    mask = torch.ones_like(ids)
    mask[1, :5] = 0  # left padding: padded queries see no key
    mask[2, :11] = 0
    bf16 = precision == "bf16"
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        got = ours(input_ids=ids, attention_mask=mask).logits.float()
        want = ref(input_ids=ids, attention_mask=mask).logits.float()
    real = mask.bool()
    if bf16:  # two kernels in bf16: equal up to bf16 rounding
        torch.testing.assert_close(got[real], want[real], atol=0.05, rtol=0.05)
    else:  # fp32: our function hands the call to transformers' SDPA unchanged
        assert torch.equal(got, want)
    assert torch.isfinite(got).all()


def test_causal_lm_without_mask_in_bf16_matches_sdpa():
    ours, ref = lm_pair()
    ids = torch.randint(0, 250, (2, 10), generator=torch.Generator().manual_seed(5))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, want = ours(input_ids=ids).logits.float(), ref(input_ids=ids).logits.float()
    torch.testing.assert_close(got, want, atol=0.05, rtol=0.05)


def test_vision_tower_runs_in_its_own_dtype_whatever_autocast_says():
    config = PRESETS.get("tiny")
    config.vision.dtype = "bfloat16"
    model, tok, _ = build_flamingo(config)
    assert next(model.vision.visual.parameters()).dtype == torch.bfloat16
    x = images(2, 1)
    plain = model.vision(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = model.vision(x)
    assert plain.dtype == under.dtype == torch.bfloat16 and torch.equal(plain, under)
    # the fp32 model around a bf16 tower runs without autocast, and under it
    open_gates(model)
    ids, mask = encode(tok, ["<image>a cat<|endofchunk|>"])
    fp32 = model(ids, x[:1], mask).logits
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = model(ids, x[:1], mask).logits.float()
    assert fp32.dtype == torch.float32 and torch.isfinite(fp32).all()
    torch.testing.assert_close(bf16, fp32, atol=0.1, rtol=0.1)


def test_fp32_tower_under_autocast_computes_in_fp32():
    model, _, _ = tiny()
    x = images(2, 1)
    plain = model.vision(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = model.vision(x)
    assert under.dtype == torch.float32 and torch.equal(plain, under)


def test_cached_decoding_in_bf16_matches_sdpa():
    """Prefill then one cached step, left-padded, under bf16 autocast: the product path (a
    one-token query over the cache, with a padding mask) against the same model on SDPA."""
    model, tok, _ = tiny()
    open_gates(model, 0.7)
    ids, mask = encode(tok, ["<image>a cat on a mat", "ab<image>a dog"])
    media = model.encode_images(images(2, 1))
    runs = []
    for implementation in (LM_ATTENTION, "sdpa"):
        model.lm.set_attn_implementation(implementation)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            cache = DynamicCache()
            _, cache = model.run_lm(ids[:, :-1], media, mask[:, :-1], cache=cache)
            positions = (mask.long().cumsum(-1) - 1)[:, -1:]
            logits, _ = model.run_lm(ids[:, -1:], media, mask, offset=torch.ones(2, dtype=torch.long),
                                     cache=cache, position_ids=positions)
        runs.append(logits.float())
    model.lm.set_attn_implementation(LM_ATTENTION)
    assert torch.isfinite(runs[0]).all()
    torch.testing.assert_close(runs[0], runs[1], atol=0.05, rtol=0.05)
