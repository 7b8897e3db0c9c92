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
    from train.data import BatchStream, ShardStream
    from train.samples import SampleBuilder

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


def test_a_video_dataset_trains_the_tiny_model(tmp_path):
    """Clips of 5 stored frames, 4 per training row (the tiny Perceiver has 4 time embeddings);
    asking for more frames than the model has embeddings is refused before any work."""
    from test_train_data import video
    from train_helpers import write_tar

    from flamingo.typedconfig import ConfigError
    from pipeline.shards import format as sf
    from train.config import DatasetConfig

    members = [m for i in range(6) for m in sf.encode(video(f"v{i}"))]
    path = str(write_tar(tmp_path / "clips.tar", members))
    cfg = tiny_config(tmp_path, {"interleaved": [], "pairs": []}, steps=2, checkpoint__every=0)
    cfg.data.datasets = [DatasetConfig(name="clips", paths=[path], kind="video", batch_size=2)]
    cfg.data.video_frames = 4
    result = train(cfg)
    assert len(result.losses) == 2 and all(torch.isfinite(torch.tensor(result.losses)))
    assert result.timings[0][5] == 2 * 4  # frames counted for MFU: 2 clips x 4 frames
    cfg.data.video_frames = 5
    with pytest.raises(ConfigError, match="time embeddings for 4"):
        train(cfg)
