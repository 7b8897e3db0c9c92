"""Data order: each pass reads every sample once, split over ranks and loader workers without overlap;
streams resume exactly from a position; another world size or worker count continues the pass
without repeating a sample; seeking through tar headers reads no member data."""

import collections
import io
import random
import tarfile

import pytest
import torch
from train_helpers import TOKEN_IDS, VOCAB, interleaved_sample, make_labels, photos, transform, write_tar

from pipeline.shards import format as sf
from pipeline.shards import reader
from train import order, tarseek
from train.data import BatchStream, ShardStream
from train.samples import SampleBuilder

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def write(root, sizes, seed=0):
    """Shards of the given sample counts; returns (paths, {key: (shard, index)})."""
    rng, pics, paths, where = random.Random(seed), photos(), [], {}
    for s, n in enumerate(sizes):
        members = []
        for i in range(n):
            sample = interleaved_sample(("o", seed, s, i), rng, pics, 1)
            where[sample.key] = (s, i)
            members += sf.encode(sample)
        paths.append(str(write_tar(root / f"s-{s:03d}.tar", members)))
    return paths, where


def stream(paths, rank=0, world=1, workers=0, batch_size=1, chunk=5):
    builder = SampleBuilder(kind="interleaved", vocab=VOCAB, transform=transform)
    ds = ShardStream(urls=paths, builder=builder, make_labels=make_labels, label_ids=TOKEN_IDS,
                     batch_size=batch_size, rank=rank, world_size=world, chunk=chunk, seed=7)
    return BatchStream("d", ds, num_workers=workers)


def keys_of(s, n):
    out = []
    for _ in range(n):
        next(s)
        out += s.last_keys
    return out


def test_one_pass_over_two_ranks_and_two_workers_yields_every_sample_once(tmp_path):
    paths, where = write(tmp_path, [8] * 8)  # 64 samples, 4 slots of 16
    seen = [keys_of(stream(paths, rank=r, world=2, workers=2), 32) for r in range(2)]
    assert not set(seen[0]) & set(seen[1])  # the ranks' samples are disjoint
    assert collections.Counter(seen[0] + seen[1]) == collections.Counter(where.keys())  # and cover the pass once


def slot_pass(reader_, pass_=0):
    """Every (shard, index) a slot reader yields in ``pass_``."""
    out = []
    for item, _ in reader_.items(order.Pos(pass_)):
        if item.pass_ > pass_:
            return out
        out.append((item.shard, item.index))


@pytest.mark.parametrize(("sizes", "slots"), [([3, 9, 1, 6, 0], 4), ([5, 7], 4), ([4], 3)])
def test_uneven_and_few_shards_still_read_once_per_pass(tmp_path, sizes, slots):
    paths, where = write(tmp_path, sizes)
    ds = stream(paths).dataset
    for p in (0, 1):
        got = [x for g in range(slots) for x in slot_pass(ds.slot_reader(g, slots), p)]
        assert sorted(got) == sorted(where.values())


def test_passes_differ_in_order_but_not_in_content(tmp_path):
    paths, where = write(tmp_path, [6] * 4)
    r = stream(paths).dataset.slot_reader(0, 1)
    first, second = slot_pass(r, 0), slot_pass(r, 1)
    assert sorted(first) == sorted(second) == sorted(where.values()) and first != second


@pytest.mark.parametrize("workers", [0, 2])
def test_stream_resumes_exactly_at_its_position(tmp_path, workers):
    paths, _ = write(tmp_path, [7, 5, 9])
    first = stream(paths, workers=workers, batch_size=2)
    keys_of(first, 5)
    state = first.state()
    tail = [next(first) for _ in range(6)]
    again = stream(paths, workers=workers, batch_size=2)
    assert again.load_state([state]) is True
    for want, got in zip(tail, [next(again) for _ in range(6)]):
        assert all(torch.equal(want[k], got[k]) for k in ("input_ids", "images", "labels"))


def pass_keys(s, batches, pass_=0):
    """Keys of the samples of pass ``pass_`` among the next ``batches`` batches."""
    got = []
    for _ in range(batches):
        next(s)
        got += [k for k, (p, _, _) in zip(s.last_keys, s.last_samples) if p == pass_]
    return got


@pytest.mark.parametrize(("before", "after"), [((1, 2), (2, 1)), ((2, 1), (1, 2))])
def test_another_layout_continues_the_pass_without_repeating_a_sample(tmp_path, before, after):
    """(world, workers) before -> after: the samples used before plus those of the rest of the
    pass after are every sample of the pass, once."""
    paths, where = write(tmp_path, [9, 4, 7, 6, 8])  # 34 samples
    world, workers = before
    streams = [stream(paths, rank=r, world=world, workers=workers, chunk=4) for r in range(world)]
    used = [k for s in streams for k in pass_keys(s, 5)]  # part-way through chunks and shards
    states = [s.state() for s in streams]
    world, workers = after
    rest = []
    for r in range(world):
        s = stream(paths, rank=r, world=world, workers=workers, chunk=4)
        assert s.load_state(states) is False  # continues, not bit-exact
        rest += pass_keys(s, 40)  # more than a share: the slots go on into pass 1
    assert collections.Counter(used + rest) == collections.Counter(where.keys())


def test_tar_header_walk_groups_like_iter_raw(tmp_path):
    sample = interleaved_sample(("t",), random.Random(0), photos(), 2)
    odd = [("dir/x.json", b"{}"), ("/abs.json", b"{}"), ("../up.json", b"{}")]
    members = sf.encode(sample) + odd + sf.encode(interleaved_sample(("u",), random.Random(1), photos(), 1))
    path = write_tar(tmp_path / "odd.tar", members)
    raws = list(reader.iter_raw(open(path, "rb")))
    for k in range(len(raws)):
        f, first = tarseek.open_at(str(path), k)
        assert first == k
        with f:
            assert next(reader.iter_raw(f)).key == raws[k].key
    assert tarseek.open_at(str(path), len(raws)) == (None, len(raws))


def test_seeking_reads_headers_not_member_data(tmp_path, monkeypatch):
    big = [(f"k{i:03d}.txt", bytes(200_000)) for i in range(50)]  # 10 MB of member data
    path = write_tar(tmp_path / "big.tar", big)
    opened = []

    class Counting(io.FileIO):
        read_bytes = 0

        def read(self, n=-1):
            data = super().read(n)
            Counting.read_bytes += len(data)
            return data

        def readinto(self, b):
            n = super().readinto(b)
            Counting.read_bytes += n or 0
            return n

    monkeypatch.setattr(reader, "open_shard", lambda url: opened.append(url) or Counting(url, "rb"))
    f, first = tarseek.open_at(str(path), 49)
    assert first == 49 and Counting.read_bytes < 100_000  # 50 headers, not 10 MB
    with f:
        assert next(reader.iter_raw(f)).key == "k049"
    with tarfile.open(path) as t:
        assert len(t.getmembers()) == 50


def test_offsets_walk_each_header_once_and_agree_with_a_fresh_walk(tmp_path, monkeypatch):
    """A worker opening one shard at samples 3, 7, 5, 9, 20: every place is the fresh walk's,
    and the headers are walked once in all (each open continues from the last place known)."""
    members = [(f"k{i:03d}.{ext}", b"x" * 700) for i in range(12) for ext in ("json", "txt")]
    path = str(write_tar(tmp_path / "s.tar", members))
    walked = []
    real = tarseek.sample_offsets
    monkeypatch.setattr(tarseek, "sample_offsets", lambda f, stop: walked.append(stop) or real(f, stop))
    known = tarseek.Offsets()
    for k in (3, 7, 5, 9, 20):
        f, first = tarseek.open_at(path, k, known)
        if k >= 12:
            assert (f, first) == (None, k)
            continue
        with f:
            assert first == k and next(reader.iter_raw(f)).key == f"k{k:03d}"
    assert walked == [3, 4, 2, 11]  # 0..3, then 3..7, 7..9, 9..20 (the tar ends at 11)
    with open(path, "rb") as f:
        assert known.find(f, path, 11) == real(f, 11)
