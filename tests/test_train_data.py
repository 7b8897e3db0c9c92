"""The trainer's data functions, each on a tiny shard: decode, attach, window, tokenise, collate, stream."""

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
from train.data import BatchStream, SampleBuilder, ShardStream, expand_paths

pytestmark = pytest.mark.usefixtures("one_torch_thread")



def stream(paths, kind, batch_size=2, **kw):
    builder = SampleBuilder(
        kind=kind, vocab=VOCAB, transform=transform, max_tokens=kw.pop("max_tokens", 64)
    )
    return ShardStream(
        urls=paths,
        builder=builder,
        make_labels=make_labels,
        label_ids=TOKEN_IDS,
        batch_size=batch_size,
        shuffle_buffer=8,
        shuffle_initial=2,
        **kw,
    )


def test_attach_previous_moves_each_image_before_the_text_it_follows():
    segs = [sf.TextSegment("a"), sf.ImageSlot(0), sf.TextSegment("b"), sf.ImageSlot(1)]
    assert C.attach_images(segs, "next") == segs
    moved = C.attach_images(segs, "previous")
    assert sf.layout_text(moved) == "<image>a<|endofchunk|><image>b<|endofchunk|>"


def test_encode_layout_places_special_ids():
    ids = C.encode_layout("hi<image>yo<|endofchunk|>", VOCAB)
    assert ids == byte_encode("hi") + [IMAGE] + byte_encode("yo") + [EOC]


def test_window_keeps_an_image_and_at_most_max_images():
    ids = [5] * 50 + [IMAGE] + [6] * 30 + [IMAGE] * 8 + [7] * 100
    for seed in range(50):
        start, stop, first = C.choose_window(ids, IMAGE, 40, 5, random.Random(seed))
        window = ids[start:stop]
        assert len(window) <= 40 and 1 <= window.count(IMAGE) <= 5
        assert first == ids[:start].count(IMAGE)
    assert C.choose_window([1, 2, 3], IMAGE, 10, 5, random.Random(0)) == (0, 3, 0)


def test_interleaved_example_pairs_tokens_with_their_images():
    pics = photos()
    sample = interleaved_sample(("k",), random.Random(0), pics, 3)
    ex = C.interleaved_example(
        sample, VOCAB, transform, max_tokens=256, max_images=5, attach="next", rng=random.Random(0)
    )
    assert ex.input_ids.count(IMAGE) == len(ex.images) == 3
    assert ex.input_ids[-1] == EOS and ex.input_ids.count(EOC) == 3
    assert ex.images[0].shape == (3, 8, 8)
    assert torch.equal(ex.images[1], transform(C.decode_image(sample.images[1].data)))


def test_long_interleaved_sequence_takes_a_window_with_matching_images():
    sample = interleaved_sample(("k",), random.Random(1), photos(), 5, words=20)
    ex = C.interleaved_example(
        sample, VOCAB, transform, max_tokens=64, max_images=5, attach="next", rng=random.Random(3)
    )
    assert len(ex.input_ids) <= 64
    assert ex.input_ids.count(IMAGE) == len(ex.images) >= 1


def test_pair_layout():
    pics = photos(1)
    sample = sf.PairSample(
        key="k", url="", caption="a cat ", image=pics[0], width=24, height=24, sha256=""
    )
    ex = C.pair_example(sample, VOCAB, transform, max_tokens=64)
    assert ex.input_ids == [IMAGE] + byte_encode("a cat") + [EOC, EOS]
    assert len(ex.images) == 1


def test_collate_pads_and_masks():
    a = C.Example([IMAGE, 10, 11, EOC, EOS], [torch.ones(3, 8, 8)])
    b = C.Example(
        [9, IMAGE, 12, EOC, IMAGE, 13, EOC], [torch.ones(3, 8, 8), 2 * torch.ones(3, 8, 8)]
    )
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


def _take(s, n):
    return [next(s) for _ in range(n)]


@pytest.mark.parametrize("workers", [0, 2])
def test_stream_resumes_at_its_position(shards, workers):
    first = BatchStream("i", stream(shards["interleaved"], "interleaved"), num_workers=workers)
    head = _take(first, 3)
    state = first.state()
    tail = _take(first, 3)
    again = BatchStream("i", stream(shards["interleaved"], "interleaved"), num_workers=workers)
    again.load_state(state)
    for want, got in zip(tail, _take(again, 3)):
        assert all(torch.equal(want[k], got[k]) for k in ("input_ids", "images", "labels"))
    assert (
        not torch.equal(head[0]["input_ids"], tail[0]["input_ids"])
        or head[0]["input_ids"].shape != tail[0]["input_ids"].shape
    )


def test_ranks_see_different_streams(shards):
    a = next(BatchStream("i", stream(shards["interleaved"], "interleaved", rank=0, world_size=2)))
    b = next(BatchStream("i", stream(shards["interleaved"], "interleaved", rank=1, world_size=2)))
    assert a["input_ids"].shape != b["input_ids"].shape or not torch.equal(
        a["input_ids"], b["input_ids"]
    )


def test_jpeg_draft_decoding_keeps_at_least_the_asked_size():
    import io as _io

    from PIL import Image
    from skimage import data

    buf = _io.BytesIO()
    Image.fromarray(data.astronaut()).save(buf, format="JPEG")  # 512x512
    assert C.decode_image(buf.getvalue(), 100).size == (128, 128)  # 1/4 scale, still >= 100
    assert C.decode_image(buf.getvalue(), 300).size == (512, 512)
    assert C.decode_image(buf.getvalue()).size == (512, 512)
