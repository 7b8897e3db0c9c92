"""The issue's measure: a 10,000-sample shard pages in under a second per page on 2 cores,
through the viewer's real HTTP server (bench/view.py; figures in bench/README.md). Slow: the
shard takes a few seconds to write, so it runs with `pytest -m slow`."""

import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parent.parent / "bench"))

import view as bench_view  # noqa: E402


@pytest.mark.slow
def test_a_10000_sample_shard_pages_in_under_a_second(tmp_path):
    tar = bench_view.build_shard(str(tmp_path), 10_000, 64)
    got = bench_view.measure(tar, pages=10)
    assert got["first_page"] < 1.0  # the parquet index is read here
    assert max(got["pages"]) < 1.0 and got["last_page"] < 1.0
    assert max(got["samples"]) < 1.0
    old = bench_view.measure(bench_view.without_places(tar, str(tmp_path)), pages=3)
    assert max(old["pages"]) < 1.0  # after the one-time header scan of a shard without places
