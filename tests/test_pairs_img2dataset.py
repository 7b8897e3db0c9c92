"""img2dataset compatibility, both ways, against a loopback server.

img2dataset's own shards are read by our pair reader; ours carry every member, JSON
field and parquet column its shards have; ``--downloader img2dataset`` gives the same
pairs as our downloader.
"""

import glob
import json
import os

import pyarrow.parquet as pq
import pytest
import webdataset as wds
from pairs_support import ROWS, PhotoServer, write_url_list

from pipeline.jobs import pairs
from pipeline.shards import format as sf
from pipeline.shards import reader

BEAM = ["--runner", "FnApiRunner", "--image.allow_private_networks", "true"]


@pytest.fixture(scope="module")
def server():
    with PhotoServer() as s:
        yield s


@pytest.fixture(scope="module")
def img2dataset_out(tmp_path_factory, server):
    os.environ["WANDB_MODE"] = "disabled"
    from img2dataset import download

    tmp = tmp_path_factory.mktemp("i2d")
    write_url_list(tmp / "list.parquet", server)
    out = str(tmp / "out")
    download(url_list=str(tmp / "list.parquet"), input_format="parquet", url_col="url", caption_col="caption",
             output_format="webdataset", output_folder=out, image_size=256, resize_mode="keep_ratio_largest",
             resize_only_if_bigger=True, processes_count=1, thread_count=4, number_sample_per_shard=4,
             save_additional_columns=["license"], min_image_size=150, enable_wandb=False)
    return out


@pytest.fixture(scope="module")
def ours_out(tmp_path_factory, server):
    tmp = tmp_path_factory.mktemp("ours")
    write_url_list(tmp / "list.parquet", server)
    out = str(tmp / "out")
    pairs.run(["--input", str(tmp / "list.parquet"), "--output", out, "--samples_per_shard", "4",
               "--list.save_additional_columns", "license", *BEAM])
    return out


def tars(out):
    return sorted(glob.glob(os.path.join(out, "*.tar")))


def test_our_reader_reads_img2dataset_shards(img2dataset_out):
    samples = list(reader.iter_samples(tars(img2dataset_out)))  # validates every image
    # img2dataset keeps the duplicate row (it has no dedup): 5 successes of 7 rows
    assert len(samples) == 5
    assert {s.caption for s in samples} == {c for n, c, _ in ROWS[:4]}
    for s in samples:
        assert s.sha256 == sf.sha256_hex(s.image) and s.extra["license"]
        assert max(s.width, s.height) <= 256


def test_ours_has_every_member_field_and_column_img2dataset_has(img2dataset_out, ours_out):
    theirs = next(iter(wds.WebDataset(tars(img2dataset_out), shardshuffle=False)))
    mine = next(iter(wds.WebDataset(tars(ours_out), shardshuffle=False)))
    members = lambda row: {k for k in row if not k.startswith("__")}  # noqa: E731
    assert members(theirs) <= members(mine)
    assert set(json.loads(theirs["json"])) <= set(json.loads(mine["json"]))
    their_cols = set(pq.read_schema(glob.glob(os.path.join(img2dataset_out, "*.parquet"))[0]).names)
    our_cols = set(pq.read_schema(glob.glob(os.path.join(ours_out, "*.parquet"))[0]).names)
    assert their_cols - {"license"} <= our_cols  # extra list columns go to the JSON, see docs/pairs.md
    their_stats = json.load(open(glob.glob(os.path.join(img2dataset_out, "*_stats.json"))[0]))
    our_stats = json.load(open(glob.glob(os.path.join(ours_out, "*_stats.json"))[0]))
    assert set(their_stats) <= set(our_stats)


def test_img2dataset_downloader_gives_the_same_pairs(tmp_path, server, ours_out):
    write_url_list(tmp_path / "list.parquet", server)
    out = str(tmp_path / "out")
    stats = pairs.run(["--input", str(tmp_path / "list.parquet"), "--output", out, "--samples_per_shard", "4",
                       "--list.save_additional_columns", "license", "--downloader", "img2dataset", *BEAM])
    via_i2d = {s.key: s for s in reader.iter_samples(tars(out))}
    via_ours = {s.key: s for s in reader.iter_samples(tars(ours_out))}
    assert set(via_i2d) == set(via_ours)  # same keys, dedup applied to both
    for key, s in via_i2d.items():
        assert s.caption == via_ours[key].caption and s.extra["license"] == via_ours[key].extra["license"]
    assert stats["counters"]["pairs"]["success"] == 4 and stats["counters"]["pairs"]["duplicate_pair"] == 1


def test_trainer_streams_img2dataset_made_shards(img2dataset_out):
    """Issue 8: the trainer's data pipeline reads shards that img2dataset itself wrote."""
    from test_train_data import stream

    from train.data import BatchStream

    s = BatchStream("laion", stream(tars(img2dataset_out), "pair", batch_size=4))
    batch = next(s)
    assert batch["input_ids"].shape[0] == 4 and batch["images"].shape[:3] == (4, 1, 1)
    assert s.dropped_total() == {}


@pytest.mark.parametrize("ours_first", [True, False])
def test_hugging_face_loads_ours_and_img2dataset_shards_together(img2dataset_out, ours_out, tmp_path, ours_first):
    """One ``load_dataset("webdataset")`` call over both, in either order: the same JSON field
    types (``exif`` a JSON string in both; ours was null, which Hugging Face cannot cast to)."""
    import datasets

    both = tars(ours_out) + tars(img2dataset_out) if ours_first else tars(img2dataset_out) + tars(ours_out)
    ds = datasets.load_dataset("webdataset", data_files={"train": both}, split="train",
                               cache_dir=str(tmp_path / "hf-cache"))
    assert len(ds) == sum(1 for t in both for _ in reader.iter_samples([t]))
    first_json = json.loads(next(iter(wds.WebDataset(both[:1], shardshuffle=False)))["json"])
    for row in ds:
        assert row["jpg"].size[0] > 0 and row["txt"]
        assert isinstance(row["json"]["exif"], str) and isinstance(json.loads(row["json"]["exif"]), dict)
        # Hugging Face takes the JSON fields of the first shard: every row has all of them.
        assert set(first_json) <= set(row["json"])
    # ...and only those: our extra fields (kind, schema_version) survive when our shards come first.
    assert ("kind" in ds[0]["json"]) == ours_first


def test_open_clip_counts_our_pairs_from_sizes_json(ours_out):
    """open_clip's get_dataset_size (what its webdataset loader calls when --train-num-samples is
    not given) counts our pairs from sizes.json. Its loader itself needs its own pinned
    webdataset (open_clip_train 3.3.0's tar expansion breaks on our webdataset 0.2.111), so the
    batches are not drawn here."""
    from open_clip_train.data import get_dataset_size

    shards = tars(ours_out)
    sizes = json.loads(open(os.path.join(ours_out, "sizes.json")).read())
    assert sorted(sizes) == [os.path.basename(t) for t in shards]
    total = sum(1 for t in shards for _ in reader.iter_samples([t]))
    assert get_dataset_size("::".join(shards)) == (total, len(shards))
    for t in shards:  # img2dataset's per-shard stats beside each shard
        stats = json.loads(open(t[: -len(".tar")] + "_stats.json").read())
        assert stats["successes"] == sizes[os.path.basename(t)]
