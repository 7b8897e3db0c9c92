"""The pairs job end to end on loopback: URL lists and a crawl in, img2dataset-layout shards out."""

import hashlib
import json
import os

import pyarrow.parquet as pq
import pytest
import webdataset as wds
from pairs_support import ROWS, PhotoServer, make_crawl, write_url_list

from flamingo.typedconfig import UsageError
from pipeline.jobs import pairs
from pipeline.shards import reader

BEAM = ["--runner", "FnApiRunner", "--image.allow_private_networks", "true"]


@pytest.fixture(scope="module")
def server():
    with PhotoServer() as s:
        yield s


def shards(out):
    return sorted(os.path.join(out, n) for n in os.listdir(out) if n.endswith(".tar"))


def samples(out):
    return list(reader.iter_samples(shards(out)))


def run_list(tmp_path, server, name="out", fmt="parquet", extra=()):
    lst = tmp_path / f"list.{fmt}"
    if not lst.exists():
        write_url_list(lst, server, fmt)
    out = str(tmp_path / name)
    stats = pairs.run(["--input", str(lst), "--output", out, "--samples_per_shard", "4",
                       "--list.save_additional_columns", "license", *BEAM, *extra])
    return out, stats


def test_url_list_end_to_end(tmp_path, server):
    out, stats = run_list(tmp_path, server)
    got = samples(out)
    # 7 rows: 4 distinct photos kept; one duplicate pair, one too small, one 404 dropped
    assert sorted(s.caption for s in got) == sorted({c for n, c, _ in ROWS[:4]})
    assert all(s.extra["license"] for s in got) and all(s.width <= 256 for s in got)
    counters = stats["counters"]
    assert counters["pairs"] == {"duplicate_pair": 1, "http_404": 1, "success": 4, "too_small": 1}
    assert counters["urllist"]["rows"] == 7
    # img2dataset's files beside each shard; rows split 4 + 3 over two shards
    assert sorted(n for n in os.listdir(out) if n.endswith("_stats.json")) == ["00000_stats.json", "00001_stats.json"]
    per_shard = [json.load(open(os.path.join(out, f"0000{i}_stats.json"))) for i in (0, 1)]
    assert sum(s["count"] for s in per_shard) == 7 and sum(s["successes"] for s in per_shard) == 4
    assert sum(s["failed_to_resize"] for s in per_shard) == 1 and sum(s["failed_to_download"] for s in per_shard) == 1
    table = pq.read_table(os.path.join(out, "00000.parquet"))
    assert {"url", "caption", "key", "status", "width", "height", "original_width", "sha256"} <= set(table.column_names)
    for name in ("stats.json", "report.md", "manifest.json", "config.json"):
        assert os.path.exists(os.path.join(out, name))
    assert not os.path.exists(os.path.join(out, "_work"))


def test_plain_webdataset_reads_our_shards(tmp_path, server):
    out, _ = run_list(tmp_path, server)
    rows = list(wds.WebDataset(shards(out), shardshuffle=False))
    assert len(rows) == 4
    for row in rows:
        meta = json.loads(row["json"])
        assert row["txt"].decode() == meta["caption"] and meta["status"] == "success"
        assert hashlib.sha256(row["jpg"]).hexdigest() == meta["sha256"]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl"])
def test_text_list_formats_give_the_same_pairs(tmp_path, server, fmt):
    out, _ = run_list(tmp_path, server, fmt=fmt)
    assert sorted(s.caption for s in samples(out)) == sorted({c for n, c, _ in ROWS[:4]})


def test_deterministic_and_resumable(tmp_path, server):
    a, _ = run_list(tmp_path, server, "a")
    b, _ = run_list(tmp_path, server, "b")
    digest = lambda out: [hashlib.sha256(open(p, "rb").read()).hexdigest() for p in shards(out)]  # noqa: E731
    assert digest(a) == digest(b)
    before = digest(a)
    os.remove(os.path.join(a, "00001.manifest.json"))  # as if the job died writing shard 1
    with pytest.raises(UsageError, match="already holds shards"):
        run_list(tmp_path, server, "a")  # an existing output needs --resume
    server.paths.clear()
    _, stats = run_list(tmp_path, server, "a", extra=["--resume"])
    assert stats["counters"]["write"]["shards_already_complete"] == 1
    assert digest(a) == before and len(stats["shards"]) == 2


def test_crawl_end_to_end(tmp_path, server):
    (tmp_path / "crawl.warc.gz").write_bytes(make_crawl(server))
    server.paths.clear()
    out = str(tmp_path / "out")
    stats = pairs.run(["--input", str(tmp_path / "*.warc.gz"), "--output", out,
                       "--caption_source", "alt,figcaption", *BEAM])
    got = {s.caption: s for s in samples(out)}
    # the rocket's alt is "logo" (boilerplate); the coffee's alt is a file name, so its figcaption wins
    assert set(got) == {"an astronaut in a white suit holding a helmet",
                        "a cup of coffee on a saucer with a spoon", "a tabby cat looking at the camera"}
    assert all(s.extra["page_url"] == "https://museum.example/visit" for s in got.values())
    assert stats["counters"]["captions"]["caption_boilerplate"] == 1
    dropped, = reader.iter_samples([os.path.join(out, "dropped", "dropped-00000.tar")])  # issue 17
    assert dropped.extra["dropped"]["reason"] == "caption_boilerplate"
    assert os.path.exists(os.path.join(out, "report.html"))
    assert stats["counters"]["images"]["source_crawl"] == 1  # the crawl's copy, no request
    assert "/img/astronaut.jpg" not in server.paths
