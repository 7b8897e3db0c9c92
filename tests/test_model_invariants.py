"""Invariants of the tiny model on CPU: identity at init, masking, gradients, counts, modes."""

import pytest
import torch
from model_fixtures import encode, images, open_gates, reference_lm, tiny

from flamingo import masking

TEXT = ["a dog.<image>A cat.<|endofchunk|><image>Two birds.<|endofchunk|>"]

# one small config per LM family the adapter claims to handle (random init, byte vocab)
FAMILIES = {
    "llama": None,  # the preset's own
    "gpt2": {"model_type": "gpt2", "vocab_size": 257, "n_embd": 64, "n_layer": 2, "n_head": 4},
    "opt": {
        "model_type": "opt",
        "vocab_size": 257,
        "hidden_size": 64,
        "ffn_dim": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "word_embed_proj_dim": 64,
    },
    "gpt_neox": {
        "model_type": "gpt_neox",
        "vocab_size": 257,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
    },
    "qwen2": {
        "model_type": "qwen2",
        "vocab_size": 257,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
    },
    "phi": {
        "model_type": "phi",
        "vocab_size": 257,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
    },
}


def _build_family(family):
    from flamingo.config import PRESETS
    from flamingo.factory import build_flamingo

    config = PRESETS.get("tiny")
    if FAMILIES[family] is not None:
        config.lm.config = dict(FAMILIES[family])
    return build_flamingo(config)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_logits_at_init_equal_the_frozen_lm_exactly(family):
    model, tok, _ = _build_family(family)
    ids, _ = encode(tok, TEXT)
    plain = ids.masked_fill(ids >= 257, ord("x") % 200)  # the same text without special tokens
    ref = reference_lm(model)
    with torch.no_grad():
        ours = model(plain, images(1, 2)).logits
        theirs = ref(plain).logits
        assert torch.equal(ours[..., :257], theirs)
        # with images and gates at 0, every text position still matches the LM over its own vocabulary
        with_images = model(ids, images(1, 2)).logits[..., :257]
        assert torch.equal(with_images, ref.get_output_embeddings()(_hidden(ref, ids, model)))


def _hidden(ref, ids, model):
    """The reference LM's last hidden state on ids whose new tokens are embedded by our table."""
    embeds = model.lm.get_input_embeddings()(ids)
    return ref(inputs_embeds=embeds, output_hidden_states=True).hidden_states[-1]


def _times(model, ids):
    return masking.text_time(ids, model.token_ids.image)[0]


def test_changing_image_k_changes_only_tokens_at_or_after_it():
    model, tok, _ = tiny()
    open_gates(model)
    ids, _ = encode(tok, TEXT)
    times = _times(model, ids)
    imgs = images(1, 2)
    with torch.no_grad():
        base = model(ids, imgs).logits
        for k in (1, 2):
            changed = imgs.clone()
            changed[:, k - 1] = torch.randn_like(changed[:, k - 1])
            diff = (model(ids, changed).logits - base).abs().amax(-1)[0]  # (L,)
            assert torch.all(diff[times < k] == 0), k
            assert torch.all(diff[times >= k] > 0), k


@pytest.mark.parametrize("immediate", [True, False])
def test_first_cross_attention_sees_only_the_allowed_images(immediate):
    """Before any LM self-attention mixes positions, image 1 reaches exactly the tokens the mask allows."""
    model, tok, _ = tiny(only_attend_immediate=immediate)
    open_gates(model)
    seen = []
    model.flamingo_layers[0].decoder_layer.register_forward_pre_hook(
        lambda m, a, kw: seen.append(a[0]), with_kwargs=True
    )
    ids, _ = encode(tok, TEXT)
    times = _times(model, ids)
    imgs = images(1, 2)
    changed = imgs.clone()
    changed[:, 0] = -imgs[:, 0]
    with torch.no_grad():
        model(ids, imgs), model(ids, changed)
    diff = (seen[0] - seen[1]).abs().amax(-1)[0]
    reached = (times == 1) if immediate else (times >= 1)
    assert torch.all(diff[reached] > 0) and torch.all(diff[~reached] == 0)


def test_text_before_any_image_gets_exactly_zero_and_no_nan():
    model, tok, _ = tiny()
    open_gates(model)
    for layer in model.flamingo_layers:
        if layer.xattn is not None:
            layer.xattn.ff_gate.data.zero_()  # isolate the cross-attention's contribution
    ids, mask = encode(tok, ["plain text, no image at all", "abc<image>d"])
    ref = reference_lm(model)
    model.train()
    out = model(ids, images(2, 1), attention_mask=mask, labels=ids.masked_fill(mask == 0, -100))
    out.loss.backward()
    assert torch.isfinite(out.logits).all() and torch.isfinite(out.loss)
    assert all(
        torch.isfinite(p.grad).all() for p in model.trainable_parameters() if p.grad is not None
    )
    with torch.no_grad():
        row0 = ref(
            ids[:1], attention_mask=mask[:1], position_ids=(mask[:1].cumsum(-1) - 1).clamp(min=0)
        ).logits
    assert torch.equal(out.logits[:1, :, :257].detach()[mask[:1] == 1], row0[mask[:1] == 1])


def test_padded_image_slots_are_unused_and_rows_are_independent():
    model, tok, _ = tiny()
    open_gates(model)
    ids, mask = encode(tok, ["<image>one image", "<image>a<image>two images"])
    imgs = images(2, 2)
    other = imgs.clone()
    other[0, 1] = 0.0  # row 0 has one image: its second slot is padding
    with torch.no_grad():
        a = model(ids, imgs, attention_mask=mask).logits
        b = model(ids, other, attention_mask=mask).logits
        single = model(ids[1:], imgs[1:], attention_mask=mask[1:]).logits
    assert torch.equal(a, b)
    torch.testing.assert_close(a[1:], single)


def test_video_frames_give_a_fixed_number_of_visual_tokens():
    model, _, _ = tiny()
    for frames in (1, 3):
        assert model.encode_images(images(2, 2, frames=frames)).shape == (2, 2, 8, 64)


def test_frozen_parameters_get_no_gradient_and_trainable_ones_do():
    model, tok, _ = tiny()
    model.train()
    ids, _ = encode(tok, TEXT)
    from flamingo.tokens import make_labels

    out = model(ids, images(1, 2), labels=make_labels(ids, model.token_ids))
    out.loss.backward()
    trainable = {id(p) for p in model.trainable_parameters()}
    for name, p in model.named_parameters():
        if id(p) in trainable:
            assert p.grad is not None, name
        else:
            assert p.grad is None, name
    gates = [layer.xattn.attn_gate for layer in model.flamingo_layers if layer.xattn is not None]
    assert all(g.grad.abs().sum() > 0 for g in gates)  # the only way out of the identity at init


def test_trainable_count_matches_the_config_and_only_new_rows_train():
    model, _, _ = tiny()
    # the factory asserted the formula; check its pieces independently here
    lm_rows = [p for n, p in model.named_parameters() if p.requires_grad and ".new." in n]
    assert (
        sum(p.numel() for p in lm_rows) == 2 * 3 * 64
    )  # 3 new tokens, input + output rows, width 64
    assert len(model.flamingo_layers) == 4
    assert [layer.xattn is not None for layer in model.flamingo_layers] == [
        True,
        False,
        True,
        False,
    ]
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    assert frozen > 0 and model.num_trainable_parameters() == 199172


def test_cross_attention_start_is_configurable():
    model, _, _ = tiny(cross_attn_start=1, cross_attn_every=2)
    assert [layer.xattn is not None for layer in model.flamingo_layers] == [
        False,
        True,
        False,
        True,
    ]


def test_train_mode_keeps_frozen_towers_in_eval():
    model, _, _ = tiny()
    model.train()
    assert not model.vision.training and not any(m.training for m in model.vision.modules())
    assert model.perceiver.training
    xattn = [layer.xattn for layer in model.flamingo_layers if layer.xattn is not None]
    assert all(block.training for block in xattn)
    assert not any(layer.decoder_layer.training for layer in model.flamingo_layers)


def test_param_groups_decay_only_cross_attention_matrices():
    model, _, _ = tiny()
    decay, no_decay = model.param_groups(0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert {id(p) for p in decay["params"]}.isdisjoint(id(p) for p in model.perceiver.parameters())
    assert all(p.ndim == 2 for p in decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(model.trainable_parameters())


def test_gradient_checkpointing_gives_the_same_gradients():
    grads = []
    for checkpointing in (False, True):
        model, tok, _ = tiny()
        open_gates(model, 0.5)
        model.enable_gradient_checkpointing(checkpointing)
        model.train()
        ids, _ = encode(tok, TEXT)
        model(ids, images(1, 2), labels=ids).loss.backward()
        grads.append([p.grad.clone() for p in model.trainable_parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)
