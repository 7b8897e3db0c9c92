"""Generation (cached vs uncached, greedy vs beam, stopping) and save/load round trips."""

import json

import pytest
import torch
from model_fixtures import encode, images, open_gates, tiny

from flamingo.factory import load_flamingo
from flamingo.model import CONFIG_FILE, WEIGHTS_FILE

PROMPT = ["<image>Output: a cat.<|endofchunk|><image>Output:"]


@pytest.fixture(scope="module")
def trained_like():
    """A tiny model whose new parts are not at their init, so images matter."""
    model, tok, _ = tiny()
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.trainable_parameters():
            p.add_(torch.randn_like(p) * 0.05)
    open_gates(model, 0.7)
    return model, tok


@pytest.mark.parametrize("num_beams", [1, 3])
def test_cached_generation_equals_uncached(trained_like, num_beams):
    model, tok = trained_like
    ids, mask = encode(tok, PROMPT + ["ab<image>Output:"])
    imgs = images(2, 2)
    kw = {"attention_mask": mask, "max_new_tokens": 12, "num_beams": num_beams}
    cached = model.generate(ids, imgs, **kw)
    uncached = model.generate(ids, imgs, use_cache=False, **kw)
    assert torch.equal(cached, uncached)
    assert torch.equal(cached[:, : ids.shape[1]], ids)


def test_one_beam_is_greedy_and_greedy_follows_argmax(trained_like):
    model, tok = trained_like
    ids, _ = encode(tok, PROMPT)
    imgs = images(1, 2)
    greedy = model.generate(ids, imgs, max_new_tokens=6)
    assert torch.equal(greedy, model.generate(ids, imgs, max_new_tokens=6, num_beams=1))
    with torch.no_grad():
        logits = model(ids, imgs).logits[0, -1]
        logits[[model.token_ids.image, model.token_ids.pad]] = float("-inf")
    assert greedy[0, ids.shape[1]] == logits.argmax()


def test_generation_depends_on_the_images(trained_like):
    model, tok = trained_like
    ids, _ = encode(tok, PROMPT)
    a = model.generate(ids, images(1, 2, seed=0), max_new_tokens=8)
    b = model.generate(ids, images(1, 2, seed=5) * 3, max_new_tokens=8)
    assert not torch.equal(a, b)


def test_batched_left_padded_prompts_match_single_ones(trained_like):
    model, tok = trained_like
    texts = ["<image>Output:", "<image>Output: a cat.<|endofchunk|><image>Output:"]
    ids, mask = encode(tok, texts)
    imgs = images(2, 2)
    batched = model.generate(ids, imgs, attention_mask=mask, max_new_tokens=5)
    for row, text in enumerate(texts):
        one, _ = encode(tok, [text])
        single = model.generate(one, imgs[row : row + 1, : 1 + row], max_new_tokens=5)
        new = batched[row, ids.shape[1] :]
        assert torch.equal(new[: single.shape[1] - one.shape[1]], single[0, one.shape[1] :])


def test_generation_stops_at_a_stop_token_and_pads_after(trained_like):
    model, tok = trained_like
    ids, mask = encode(tok, PROMPT + ["<image>x"])
    imgs = images(2, 2)
    with torch.no_grad():
        logits = model(ids, imgs, attention_mask=mask).logits[:, -1]
        logits[:, [model.token_ids.image, model.token_ids.pad]] = float("-inf")  # never generated
        first = logits.argmax(-1)  # (2,)
    out = model.generate(
        ids, imgs, attention_mask=mask, max_new_tokens=6, stop_token_ids=(int(first[0]),)
    )
    new = out[:, ids.shape[1] :]
    assert new[0, 0] == first[0]
    assert torch.all(new[0, 1:] == model.token_ids.pad)
    both = model.generate(
        ids, imgs, attention_mask=mask, max_new_tokens=6, stop_token_ids=tuple(first.tolist())
    )
    assert both.shape[1] == ids.shape[1] + 1  # every row stopped: no further steps


def test_min_new_tokens_bars_the_stop_tokens(trained_like):
    model, tok = trained_like
    ids, mask = encode(tok, PROMPT)
    imgs = images(1, 2)
    with torch.no_grad():
        logits = model(ids, imgs, attention_mask=mask).logits[:, -1]
        logits[:, [model.token_ids.image, model.token_ids.pad]] = float("-inf")
        first = int(logits.argmax(-1)[0])
    out = model.generate(ids, imgs, attention_mask=mask, max_new_tokens=4, stop_token_ids=(first,),
                         min_new_tokens=2)
    new = out[0, ids.shape[1]:].tolist()
    assert len(new) >= 2 and first not in new[:2]


def test_generation_never_emits_image_or_padding_tokens(trained_like):
    model, tok = trained_like
    ids, _ = encode(tok, PROMPT)
    with torch.no_grad():
        head = model.lm.get_output_embeddings()
        saved = head.new.weight.clone()
        head.new.weight.mul_(100)  # the new tokens' logits now dominate
    try:
        out = model.generate(ids, images(1, 2), max_new_tokens=4)
    finally:
        with torch.no_grad():
            head.new.weight.copy_(saved)
    new = out[0, ids.shape[1] :]
    assert not torch.isin(new, torch.tensor([model.token_ids.image])).any()


def test_save_then_load_gives_identical_logits(trained_like, tmp_path):
    model, tok = trained_like
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / CONFIG_FILE).read_text())["lm"]["tokenizer"] == "bytes"
    assert not list(tmp_path.glob("*.bin")) and not list(tmp_path.glob("*.pt"))
    loaded = load_flamingo(tmp_path)
    ids, _ = encode(tok, PROMPT)
    with torch.no_grad():
        assert torch.equal(model(ids, images(1, 2)).logits, loaded(ids, images(1, 2)).logits)


def test_loading_mismatched_weights_is_refused(trained_like, tmp_path):
    from safetensors.torch import load_file, save_file

    model, _ = trained_like
    model.save_pretrained(tmp_path)
    state = load_file(tmp_path / WEIGHTS_FILE)
    state.pop(next(iter(state)))
    save_file(state, tmp_path / WEIGHTS_FILE)
    with pytest.raises(ValueError, match="missing"):
        load_flamingo(tmp_path)
