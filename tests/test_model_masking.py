"""Media masking on hand-written sequences (pure functions, no model)."""

import pytest
import torch

from flamingo import masking

IMG = 9


def test_text_time_counts_images_at_or_before_each_token():
    ids = torch.tensor([[1, 2, IMG, 3, IMG, IMG, 4]])
    assert masking.text_time(ids, IMG).tolist() == [[0, 0, 1, 1, 2, 3, 3]]


def test_text_time_continues_from_offset():
    ids = torch.tensor([[5], [IMG]])
    assert masking.text_time(ids, IMG, offset=torch.tensor([2, 1])).tolist() == [[2], [2]]


def test_immediate_mask_text_before_any_image_sees_nothing():
    # text, image 1, text, image 2, image 3 (consecutive), text
    times = masking.text_time(torch.tensor([[1, IMG, 2, IMG, IMG, 3]]), IMG)
    mask = masking.media_mask(times, num_images=3, only_attend_immediate=True)[0].int()
    assert mask.tolist() == [
        [0, 0, 0],
        [1, 0, 0],
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],  # the second of two consecutive images sees only itself
        [0, 0, 1],
    ]


def test_all_previous_mask():
    times = masking.text_time(torch.tensor([[1, IMG, 2, IMG, IMG, 3]]), IMG)
    mask = masking.media_mask(times, num_images=3, only_attend_immediate=False)[0].int()
    assert mask.tolist() == [[0, 0, 0], [1, 0, 0], [1, 0, 0], [1, 1, 0], [1, 1, 1], [1, 1, 1]]


def test_unused_image_slots_are_never_attended():
    times = masking.text_time(torch.tensor([[IMG, 1, 2]]), IMG)
    for immediate in (True, False):
        mask = masking.media_mask(times, num_images=4, only_attend_immediate=immediate)
        assert not mask[..., 1:].any()


def test_expand_to_latents_repeats_each_image_column():
    mask = torch.tensor([[[True, False]]])
    assert masking.expand_to_latents(mask, 3).tolist() == [
        [[True, True, True, False, False, False]]
    ]


def test_more_image_tokens_than_slots_is_refused():
    times = masking.text_time(torch.tensor([[IMG, IMG, IMG]]), IMG)
    with pytest.raises(ValueError, match="3 <image> tokens"):
        masking.check_image_count(times, 2)
