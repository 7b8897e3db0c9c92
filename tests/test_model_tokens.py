"""Token conventions: the special tokens, the byte tokenizer, label masking."""

import model_fixtures  # noqa: F401  (offline environment)
import torch

from flamingo import tokens
from flamingo.tokens import IGNORE_INDEX, TokenIds, make_labels, mask_padding


def test_special_token_strings_match_the_shard_format():
    from pipeline.shards import format as shardformat

    assert tokens.IMAGE_TOKEN == shardformat.IMAGE_TOKEN
    assert tokens.END_OF_CHUNK_TOKEN == shardformat.END_OF_CHUNK_TOKEN


def test_add_special_tokens_is_idempotent_and_each_is_one_token():
    tok = tokens.build_byte_tokenizer()
    ids = tokens.add_special_tokens(tok)
    assert tokens.add_special_tokens(tok) == ids and len(tok) == 260
    enc = tok("<image>hi<|endofchunk|>")["input_ids"]
    assert enc[0] == ids.image and enc[-1] == ids.end_of_chunk and len(enc) == 4
    assert tok.decode(enc) == "<image>hi<|endofchunk|>"
    assert len({ids.image, ids.end_of_chunk, ids.pad, ids.eos}) == 4


def test_make_labels_masks_image_padding_and_text_before_first_image():
    ids = TokenIds(image=1, end_of_chunk=2, pad=0, eos=3)
    x = torch.tensor(
        [
            [5, 6, 1, 7, 8, 2, 1, 9, 2, 3],  # text before the image gets no loss
            [1, 7, 2, 3, 0, 0, 0, 0, 0, 0],  # right padding
        ]
    )
    N = IGNORE_INDEX
    assert make_labels(x, ids).tolist() == [
        [N, N, N, 7, 8, 2, N, 9, 2, 3],
        [N, 7, 2, 3, N, N, N, N, N, N],
    ]


def test_labels_when_pad_equals_eos_use_the_attention_mask():
    ids = TokenIds(image=1, end_of_chunk=2, pad=3, eos=3)
    x = torch.tensor([[1, 7, 2, 3, 3]])
    labels = mask_padding(make_labels(x, ids), torch.tensor([[1, 1, 1, 1, 0]]))
    assert labels.tolist() == [[IGNORE_INDEX, 7, 2, 3, IGNORE_INDEX]]
