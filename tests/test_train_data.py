"""The trainer's data functions, each on a tiny shard: placement, rows as stored, counts, truncation,
video, collation, decoding, streams."""

import dataclasses
import logging
import random

import pytest
import torch
from train_helpers import (
    EOC,
    EOS,
    IMAGE,
    PAD,
    TOKEN_IDS,
    VOCAB,
    byte_encode,
    interleaved_sample,
    make_labels,
    photos,
    transform,
    write_img2dataset_shard,
    write_tar,
)

from pipeline.shards import format as sf
from train import collate as C
from train.data import BatchStream, ShardStream, expand_paths
from train.samples import SampleBuilder

pytestmark = pytest.mark.usefixtures("one_torch_thread")
BOS = 260
# A vocabulary that counts like the corpus job's (a fingerprint) and adds BOS, as LLaMA's does.
COUNTED = dataclasses.replace(VOCAB, bos=BOS, tokenizer_id="bytes@0123456789ab")


def stream(paths, kind, batch_size=2, **kw):
    builder = SampleBuilder(kind=kind, vocab=kw.pop("vocab", VOCAB), transform=transform,
                            max_tokens=kw.pop("max_tokens", 64), truncate=kw.pop("truncate", False))
    return ShardStream(urls=paths, builder=builder, make_labels=make_labels, label_ids=TOKEN_IDS,
                       batch_size=batch_size, chunk=8, **kw)


def example(sample, vocab=VOCAB, **kw):
    kw = {"max_tokens": 256, "max_images": 5, "placement": "next", "rng": random.Random(0), **kw}
    return C.interleaved_example(sample, vocab, transform, **kw)


def test_attach_previous_moves_each_image_before_the_text_it_follows():
    segs = [sf.TextSegment("a"), sf.ImageSlot(0), sf.TextSegment("b"), sf.ImageSlot(1)]
    assert C.attach_images(segs, "next") == segs
    moved = C.attach_images(segs, "previous")
    assert sf.layout_text(moved) == "<image>a<|endofchunk|><image>b<|endofchunk|>"


def test_encode_layout_places_special_ids():
    ids = C.encode_layout("hi<image>yo<|endofchunk|>", VOCAB)
    assert ids == byte_encode("hi") + [IMAGE] + byte_encode("yo") + [EOC]


def test_a_stored_sequence_is_one_whole_row_with_bos_and_eos():
    pics = photos()
    sample = interleaved_sample(("k",), random.Random(0), pics, 3, vocab=COUNTED)
    ex = example(sample, COUNTED)
    texts = [seg.text for seg in sample.segments if isinstance(seg, sf.TextSegment)]
    want = [BOS] + byte_encode(texts[0])
    for t in texts[1:]:
        want += [IMAGE] + byte_encode(t) + [EOC]
    assert ex.input_ids == want + [EOS]  # nothing re-cut, nothing windowed
    assert len(ex.input_ids) == sample.num_tokens  # the count the corpus job stored
    assert len(ex.images) == 3 and ex.images[0].shape == (1, 3, 8, 8)
    assert torch.equal(ex.images[1][0], transform(C.decode_image(sample.images[1].data)))


def test_counts_that_disagree_with_the_same_tokenizer_stop_the_run():
    sample = interleaved_sample(("k",), random.Random(0), photos(), 2, vocab=COUNTED)
    sample.num_tokens -= 2  # as an old corpus job counted it: no BOS, no EOS
    with pytest.raises(C.DataError, match=f"says {sample.num_tokens} tokens but the trainer feeds"):
        example(sample, COUNTED)
    # counted with another tokenizer: not comparable, so not checked (the row still fits)
    sample.tokenizer = "other@fedcba987654"
    assert len(example(sample, COUNTED).input_ids) == sample.num_tokens + 2


def test_uncounted_shards_are_noted_once_and_shards_that_name_no_tokenizer_quietly(caplog):
    from train.samples import SkipLog

    sample = interleaved_sample(("k",), random.Random(0), photos(), 1, vocab=COUNTED)
    with caplog.at_level(logging.INFO, logger="train.samples"):
        sample.tokenizer = ""  # written without counting (the synthetic benchmark's documents)
        SkipLog("synthetic").note_uncounted(sample, COUNTED)
        sample.tokenizer = "other@fedcba987654"
        skips = SkipLog("web")
        skips.note_uncounted(sample, COUNTED)
        skips.note_uncounted(sample, COUNTED)
    levels = [(r.levelname, "'synthetic'" in r.getMessage()) for r in caplog.records]
    assert levels == [("INFO", True), ("WARNING", False)]


def test_a_row_longer_than_max_tokens_stops_unless_truncation_is_asked():
    sample = interleaved_sample(("k",), random.Random(1), photos(), 5, words=6)
    n = len(C.row_ids(sample.segments, VOCAB))
    assert n > 64
    with pytest.raises(C.DataError, match=rf"has {n} tokens and 5 images, more than data.max_tokens=64"):
        example(sample, max_tokens=64)
    ex = example(sample, max_tokens=64, truncate=True)
    assert ex.truncated and len(ex.input_ids) <= 64 and ex.input_ids[-1] != IMAGE
    assert ex.input_ids.count(IMAGE) == len(ex.images) >= 1
    assert example(sample, max_images=2, truncate=True).input_ids.count(IMAGE) == 2


def test_image_placement_random_draws_both_and_never_changes_the_length():
    sample = interleaved_sample(("k",), random.Random(2), photos(), 3, vocab=COUNTED)
    rows = {tuple(example(sample, COUNTED, placement="random", rng=random.Random(s)).input_ids) for s in range(20)}
    nxt, prev = (tuple(example(sample, COUNTED, placement=p).input_ids) for p in ("next", "previous"))
    assert rows == {nxt, prev} and nxt != prev
    assert len(nxt) == len(prev) == sample.num_tokens
    assert prev[1] == IMAGE  # previous: the first image now comes before the text it precedes


def test_rows_without_a_target_are_skipped_not_trained():
    with pytest.raises(C.SampleError, match="no image"):
        example(sf.InterleavedSample("k", "", "", 0, 0, "", [sf.TextSegment("text only")], []))


def test_pair_layout_with_and_without_bos():
    sample = sf.PairSample(key="k", url="", caption="a cat ", image=photos(1)[0], width=24, height=24, sha256="")
    ex = C.pair_example(sample, VOCAB, transform, max_tokens=64)
    assert ex.input_ids == [IMAGE] + byte_encode("a cat") + [EOC, EOS] and len(ex.images) == 1
    assert C.pair_example(sample, COUNTED, transform, max_tokens=64).input_ids[0] == BOS
    short = C.pair_example(sample, VOCAB, transform, max_tokens=5)
    assert len(short.input_ids) == 5 and short.truncated


def video(key="v", n_frames=5):
    pics = photos()
    frames = [sf.ImageRef("", sf.sha256_hex(pics[i % 3]), 24, 24, data=pics[i % 3]) for i in range(n_frames)]
    return sf.VideoSample(key=key, url="http://x/clip", caption="a cat walks", frames=frames, fps=1.0)


def test_video_sample_round_trips_and_becomes_one_medium_of_frames(tmp_path):
    v = video()
    members = {n.split(".", 1)[1]: d for n, d in sf.encode(v)}
    assert sorted(members) == ["0.jpg", "1.jpg", "2.jpg", "3.jpg", "4.jpg", "json", "txt"]
    assert sf.validate("v", members) == []
    back = sf.decode("v", members)
    assert isinstance(back, sf.VideoSample) and back.caption == "a cat walks" and len(back.frames) == 5
    del members["3.jpg"]
    assert "frame 3: missing member KEY.3.jpg" in sf.validate("v", members)
    ex = C.video_example(back, VOCAB, transform, frames=4, max_tokens=64)
    assert ex.input_ids == [IMAGE] + byte_encode("a cat walks") + [EOC, EOS]
    assert ex.images[0].shape == (4, 3, 8, 8)  # frames 0, 1, 2, 3 of 5 spread: 0, 1, 2, 3
    assert C.frame_indices(5, 4) == [0, 1, 2, 3] and C.frame_indices(2, 4) == [0, 0, 1, 1]
    # through a shard and the stream, as a batch of (B, T_img=1, F, C, H, W)
    path = write_tar(tmp_path / "v.tar", sf.encode(video("a")) + sf.encode(video("b", 3)))
    builder = SampleBuilder(kind="video", vocab=VOCAB, transform=transform, video_frames=4)
    s = BatchStream("v", ShardStream(urls=[str(path)], builder=builder, make_labels=make_labels,
                                     label_ids=TOKEN_IDS, batch_size=2, chunk=4))
    batch = next(s)
    assert batch["images"].shape == (2, 1, 4, 3, 8, 8)
    assert batch["num_images"].item() == 2 and batch["num_frames"].item() == 8


def test_collate_pads_and_masks():
    a = C.Example([IMAGE, 10, 11, EOC, EOS], [torch.ones(1, 3, 8, 8)])
    b = C.Example([9, IMAGE, 12, EOC, IMAGE, 13, EOC], [torch.ones(1, 3, 8, 8), 2 * torch.ones(1, 3, 8, 8)])
    batch = C.collate([a, b], VOCAB, make_labels, TOKEN_IDS)
    assert batch["input_ids"].shape == (2, 7) and batch["images"].shape == (2, 2, 1, 3, 8, 8)
    assert batch["input_ids"][0, 5:].tolist() == [PAD, PAD]
    assert batch["attention_mask"].sum().item() == 12
    assert batch["labels"][0].tolist() == [-100, 10, 11, EOC, EOS, -100, -100]
    assert batch["labels"][1, :2].tolist() == [-100, -100]
    assert batch["images"][0, 1].abs().sum() == 0 and batch["images"][1, 1].mean() == 2
    assert batch["num_images"].item() == 3


def test_corrupt_image_is_counted_and_logged(tmp_path, caplog):
    good = interleaved_sample(("g",), random.Random(0), photos(), 1)
    bad = interleaved_sample(("b",), random.Random(0), photos(), 1)
    bad.images[0].data = b"\xff\xd8\xff not really a jpeg"
    bad.images[0].sha256 = sf.sha256_hex(bad.images[0].data)
    evil = [("evil.json", b"{}"), ("evil.pyd", b"pickle")]
    path = write_tar(tmp_path / "mixed.tar", sf.encode(good) + sf.encode(bad) + evil)
    s = BatchStream("x", stream([str(path)], "interleaved", batch_size=1))
    with caplog.at_level(logging.WARNING):
        for _ in range(4):
            next(s)
    assert s.dropped_total()["image_decode_error"] >= 1
    assert s.dropped_total()["invalid_sample"] >= 1
    assert "image_decode_error" in caplog.text


def test_skip_warnings_are_rate_limited_and_counted(caplog):
    from train.samples import SkipLog

    skips = SkipLog("d", first=3, every_s=3600)
    with caplog.at_level(logging.WARNING):
        for i in range(500):
            skips.skip("image_decode_error", f"k{i}", "s.tar", "bad")
    assert skips.counts["image_decode_error"] == 500
    assert len(caplog.records) == 3  # the rest are in the count, summarised by the trainer


def test_reads_img2dataset_shards(tmp_path):
    path = write_img2dataset_shard(tmp_path / "00000.tar")
    s = BatchStream("laion", stream([str(path)], "pair", batch_size=4))
    batch = next(s)
    assert batch["input_ids"].shape[0] == 4 and batch["images"].shape[:3] == (4, 1, 1)
    assert s.dropped_total() == {}
    texts = {bytes(t - 4 for t in row if t > 3).decode() for row in batch["input_ids"].tolist()}
    assert all(t.startswith("photo number ") for t in texts)


def test_expand_paths_globs_braces_and_refuses_pipe(shards, tmp_path):
    root = shards["pairs"][0].rsplit("/", 1)[0]
    assert expand_paths([f"{root}/pair-*.tar"]) == shards["pairs"]
    assert expand_paths([f"{root}/pair-{{00000..00001}}.tar"]) == shards["pairs"]
    with pytest.raises(ValueError):
        expand_paths(["pipe:cat x.tar"])
    with pytest.raises(FileNotFoundError):
        expand_paths([str(tmp_path / "none-*.tar")])


def test_jpeg_draft_decoding_keeps_at_least_the_asked_size():
    import io as _io

    from PIL import Image
    from skimage import data

    buf = _io.BytesIO()
    Image.fromarray(data.astronaut()).save(buf, format="JPEG")  # 512x512
    assert C.decode_image(buf.getvalue(), 100).size == (128, 128)  # 1/4 scale, still >= 100
    assert C.decode_image(buf.getvalue(), 300).size == (512, 512)
    assert C.decode_image(buf.getvalue()).size == (512, 512)


def test_a_loader_worker_sends_the_batches_made_in_process(tmp_path):
    """One worker process or none: the same batches, tensor for tensor (dtype and shape too),
    whether a tensor came by value (small) or through shared memory (over the limit)."""
    from train_helpers import write_shards

    from train import data as D

    paths = write_shards(tmp_path, "interleaved", n_shards=2, per_shard=6)
    runs = []
    for workers, limit in ((0, D.BY_VALUE_BYTES), (1, D.BY_VALUE_BYTES), (1, 0)):
        D.BY_VALUE_BYTES = limit  # workers fork after this: 0 sends every tensor through shared memory
        try:
            s = BatchStream("x", stream(paths, "interleaved", batch_size=3), num_workers=workers)
            runs.append([next(s) for _ in range(5)])
        finally:
            D.BY_VALUE_BYTES = 1 << 20
    for run in runs[1:]:
        for got, want in zip(run, runs[0]):
            assert got.keys() == want.keys()
            for k, v in want.items():
                if isinstance(v, torch.Tensor):
                    assert isinstance(got[k], torch.Tensor) and got[k].dtype == v.dtype and torch.equal(got[k], v), k
                else:
                    assert got[k] == v, k
