"""The trainer on the real ``tiny`` Flamingo: exact resume and the real tokenizer's conventions."""

import pytest
import torch
from train_helpers import tiny_config

from train.components import build_components
from train.loop import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")




def _cfg(tmp, shards, **kw):
    cfg = tiny_config(tmp, shards, **kw)
    for ds in cfg.data.datasets:
        ds.batch_size = 2
    return cfg


def test_tiny_preset_ten_plus_ten_equals_twenty(tmp_path, shards):
    full = train(_cfg(tmp_path / "a", shards, steps=20, checkpoint__every=0))
    first = train(_cfg(tmp_path / "b", shards, steps=10))
    second = train(_cfg(tmp_path / "b", shards, steps=20, checkpoint__resume=True))
    assert first.losses + second.losses == full.losses
    assert sum(full.losses[-5:]) < sum(full.losses[:5])


def test_real_tokenizer_layout(shards):
    comp = build_components("tiny")
    ids = comp.model.token_ids
    from train.data import BatchStream, SampleBuilder, ShardStream

    builder = SampleBuilder(kind="pair", vocab=comp.vocab, transform=comp.transform, max_tokens=64)
    stream = BatchStream(
        "p",
        ShardStream(
            urls=shards["pairs"],
            builder=builder,
            make_labels=comp.make_labels,
            label_ids=ids,
            batch_size=2,
            chunk=4,
        ),
    )
    batch = next(stream)
    row = batch["input_ids"][0][batch["attention_mask"][0].bool()].tolist()
    assert row[0] == ids.image and row[-2:] == [ids.end_of_chunk, ids.eos]
    assert batch["images"].shape[:3] == (2, 1, 1) and batch["images"].shape[3] == 3
    out = comp.model(**{k: batch[k] for k in ("input_ids", "images", "attention_mask", "labels")})
    assert torch.isfinite(out.loss)
