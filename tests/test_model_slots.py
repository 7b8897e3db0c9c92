"""Only real images go through the vision tower and the Perceiver; a batch with no target gives a
zero loss, never NaN; a clip of several frames trains end to end (real tiny model, CPU)."""

import pytest
import torch
from model_fixtures import encode, images, open_gates, tiny

from flamingo.model import causal_lm_loss


@pytest.fixture(scope="module")
def built():
    return tiny()


def test_padded_slots_never_reach_the_vision_tower_or_the_perceiver(built):
    model, tok, _ = built
    open_gates(model)
    # one row of 5 images, seven rows of 1: 40 slots, 12 real images
    texts = ["<image>a<image>b<image>c<image>d<image>e"] + ["<image>one"] * 7
    ids, mask = encode(tok, texts)
    imgs = images(8, 5)
    seen = []
    hook = model.vision.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[:3]))
    with torch.no_grad():
        logits = model(ids, imgs, attention_mask=mask).logits
    hook.remove()
    assert seen == [torch.Size([12, 1, 1])]  # (real images, 1, F): not (8, 5, 1)
    with torch.no_grad():  # the same as encoding every slot, as before
        every = model.encode_images(imgs)  # (B, T, n, Dv), all 40 slots
        counts = (ids == model.token_ids.image).sum(1)
        real = model.encode_images(imgs, counts)
        full, _ = model.run_lm(ids, every, mask)
    torch.testing.assert_close(real[0], every[0])
    torch.testing.assert_close(real[1:, :1], every[1:, :1])
    assert real[1:, 1:].abs().sum() == 0  # empty slots: zeros, attended by no token
    torch.testing.assert_close(logits, full)


def test_a_batch_with_no_target_gives_zero_loss_and_zero_gradient():
    logits = torch.randn(2, 5, 11, requires_grad=True)
    labels = torch.full((2, 5), -100)
    loss = causal_lm_loss(logits, labels)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() == 0
    labels[0, 3] = 4
    want = torch.nn.functional.cross_entropy(logits[0, 2:3].detach(), torch.tensor([4]))
    torch.testing.assert_close(causal_lm_loss(logits.detach(), labels), want)


def test_video_clips_train_the_time_embeddings(built):
    model, tok, _ = built
    open_gates(model, 0.5)  # at init the gates are 0: no gradient reaches the media yet
    model.train()
    model.zero_grad(set_to_none=True)
    ids, mask = encode(tok, ["<image>a cat walks", "<image>then it sits"])
    clip = images(2, 1, frames=4)  # (B, T_img=1, F=4, C, H, W)
    labels = ids.masked_fill(mask == 0, -100)
    model(ids, clip, attention_mask=mask, labels=labels).loss.backward()
    emb = model.perceiver.frame_embs.grad  # (max_frames, Dv): one per frame position
    assert emb is not None and (emb.abs().sum(-1) > 0).all()
