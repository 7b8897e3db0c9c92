"""Both jobs run as a distributed runner would run them (``tests/harness.py``): isolated worker
processes that share no disk, inputs and outputs in an S3-compatible store on loopback, the
store's options reaching every worker. The bucket must hold exactly what a local run writes,
byte for byte, and nothing else: every job file, nothing left under ``_work``, nothing on the
launcher's disk."""

from __future__ import annotations

import json

import pytest
from harness import ObjectStore, local_files, shared_nothing
from pairs_support import PhotoServer, write_url_list

from flamingo.typedconfig import UsageError
from pipeline.jobs import corpus, pairs

# Files whose bytes legitimately differ between the two runs: config.json records where and how
# the job ran (output path, Beam options); img2dataset's per-shard _stats.json record when.
RUN_RECORD = {"config.json"}
TIMES = ("start_time", "end_time", "duration")


def same(name: str, a: bytes, b: bytes) -> bool:
    if name.endswith("_stats.json"):
        a, b = ({k: v for k, v in json.loads(x).items() if k not in TIMES} for x in (a, b))
    return a == b
SMALL = ["--samples_per_shard", "4"]


@pytest.fixture(scope="module")
def store():
    with ObjectStore() as s:
        yield s


def distributed(store, monkeypatch, tmp_path, run, argv: list[str]) -> dict:
    """Run a job with isolated workers against the store; check the launcher wrote nothing."""
    with shared_nothing(monkeypatch, tmp_path / "launcher") as dirs:
        stats = run([*argv, *store.beam_options, "--direct_num_workers", "2"])
        leftovers = {name: sorted(p.name for p in d.rglob("*")) for name, d in dirs.items()}
    assert leftovers == {"cwd": [], "home": [], "tmp": []}, "the launcher wrote to its own disk"
    return stats


def compare(store, prefix: str, local_dir) -> dict[str, bytes]:
    remote, local = store.listing(prefix), local_files(local_dir)
    assert sorted(remote) == sorted(local), "the bucket must hold exactly the local run's files"
    assert not any(n.startswith("_work") for n in remote)
    differ = sorted(n for n in local if n not in RUN_RECORD and not same(n, remote[n], local[n]))
    assert differ == [], f"differ from the local run: {differ}"
    return remote


def test_corpus_job_on_isolated_workers_writes_the_local_bytes_to_the_bucket(store, sample_crawl, corpus_output,
                                                                             tmp_path, monkeypatch):
    local, expected = corpus_output  # the same options, on the in-process runner, to a local directory
    store.put("in/crawl/sample.warc.gz", sample_crawl.read_bytes())
    stats = distributed(store, monkeypatch, tmp_path, corpus.run,
                        ["--input", store.url("in/crawl/"), "--output", store.url("out/corpus"), *SMALL])
    remote = compare(store, "out/corpus/", local)
    assert stats["shards"] == expected["shards"] and len(stats["shards"]) >= 2
    assert stats["counters"] == expected["counters"]
    manifest = json.loads(remote["manifest.json"])
    assert [s["shard"] for s in manifest["shards"]] == stats["shards"]  # not "shards": []
    for name in ("stats.json", "report.md", "config.json", "plots/tokens_per_sequence.png"):
        assert name in remote, name
    recorded = json.loads(remote["config.json"])
    assert "harness-secret" not in remote["config.json"].decode() and recorded["output"] == store.url("out/corpus")


@pytest.mark.slow
def test_pairs_job_on_isolated_workers_fetches_and_writes_like_a_local_run(store, tmp_path, monkeypatch):
    with PhotoServer() as server:
        lst = tmp_path / "list.tsv"
        write_url_list(lst, server, "tsv")
        opts = [*SMALL, "--image.allow_private_networks", "true"]
        local = tmp_path / "local"
        pairs.run(["--input", str(lst), "--output", str(local), *opts, "--runner", "FnApiRunner"])
        store.put("in/lists/list.tsv", lst.read_bytes())
        stats = distributed(store, monkeypatch, tmp_path, pairs.run,
                            ["--input", store.url("in/lists/list.tsv"), "--output", store.url("out/pairs"), *opts])
    remote = compare(store, "out/pairs/", local)
    assert stats["counters"]["pairs"]["success"] == 4 and "00000_stats.json" in remote


def test_a_local_output_is_refused_for_workers_that_share_no_disk(store, tmp_path, monkeypatch):
    local_out, local_work = str(tmp_path / "out"), str(tmp_path / "work")
    with shared_nothing(monkeypatch, tmp_path / "launcher"):
        for flag, value, paths in (("--output", local_out, ["--output", local_out]),
                                   ("--work_dir", local_work, ["--output", store.url("out/x"), "--work_dir", local_work])):
            with pytest.raises(UsageError) as e:
                corpus.run(["--input", store.url("in/x.warc.gz"), *paths, *store.beam_options])
            assert e.value.line().startswith(f"{flag} {value} is on this machine's disk, which the workers of "
                                             "the embedded runner may not share"), e.value.line()
    with pytest.raises(UsageError, match="DataflowRunner may not share"):
        corpus.run(["--input", "x.warc.gz", "--output", str(tmp_path / "out"), "--runner", "DataflowRunner"])
