"""The corpus job end to end on the sample crawl: outputs valid, stats add up, deterministic, resumable."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from flamingo.typedconfig import UsageError
from pipeline.jobs import corpus
from pipeline.shards import format as sf
from pipeline.shards import manifest, reader

RUNNER = ["--runner", "FnApiRunner"]  # in-process: fastest for a small crawl
# Counters that count what went on, not a drop (as pipeline/jobs/report.py treats them).
NOT_DROPS = {"ok", "kept", "unique", "pages", "files", "image_records", "tokens", "sequences", "images", "shards"}


@pytest.fixture(scope="module")
def crawl(sample_crawl):
    return str(sample_crawl)


def run_job(crawl, out, *extra):
    return corpus.run(["--input", crawl, "--output", str(out), "--samples_per_shard", "4", *RUNNER, *extra])


@pytest.fixture(scope="module")
def first(corpus_output):
    return corpus_output


def tar_hashes(out):
    return {n: hashlib.sha256((out / n).read_bytes()).hexdigest() for n in sorted(os.listdir(out)) if n.endswith(".tar")}


def test_outputs_are_valid_sequences(first):
    out, stats = first
    assert stats["samples"] > 5 and len(stats["shards"]) >= 2
    samples = list(reader.iter_samples(sorted(str(out / s) for s in stats["shards"]), max_images=5, max_tokens=256))
    assert len(samples) == stats["samples"]
    for s in samples:
        assert 0 < len(s.images) <= 5 and s.num_tokens <= 256
        for im in s.images:
            assert sf.sha256_hex(im.data) == im.sha256
        # every image is followed by its text in the same sequence
        kinds = [type(seg).__name__ for seg in s.segments]
        assert kinds[-1] == "TextSegment"
    assert not (out / "_work").exists()
    for name in ("stats.json", "report.md", "manifest.json", "config.json", "plots/tokens_per_sequence.png"):
        assert (out / name).exists(), name


def test_dropped_sample_and_report_page(first):
    """Issue 17: at most --dropped_per_reason (8) examples of each drop reason, as a valid shard in
    OUTPUT/dropped/, and report.html naming every drop reason with its count."""
    out, stats = first
    dropped = list(reader.iter_samples([str(out / "dropped" / "dropped-00000.tar")]))
    reasons = {}
    for s in dropped:
        d = s.extra["dropped"]
        reasons.setdefault((d["stage"], d["reason"]), []).append(s)
    c = stats["counters"]
    assert {"filter", "images", "documents"} <= {stage for stage, _ in reasons}
    for (stage, reason), samples in reasons.items():
        assert 0 < len(samples) <= min(8, c[stage][reason]), (stage, reason)
    assert "opt_out_noai" not in {r for _, r in reasons}  # opted-out pages are never kept
    page = (out / "report.html").read_text()
    for stage in ("read", "extract", "filter", "dedup", "images", "documents"):
        for reason, n in c[stage].items():
            if n and reason not in NOT_DROPS and not reason.startswith("source_"):
                assert f">{reason}</text>" in page and f">{n:,}</text>" in page, (stage, reason)
    assert page.count("data:image/jpeg;base64,") >= 12  # the kept gallery's thumbnails


def test_stats_add_up(first):
    _, stats = first
    c = stats["counters"]
    read, extract, filt, dedup, docs = (c[k] for k in ("read", "extract", "filter", "dedup", "documents"))
    assert read["pages"] == sum(extract.values())
    assert extract["ok"] == sum(filt.values())
    assert filt["kept"] == sum(dedup.values())
    assert dedup["unique"] == sum(docs.values())
    assert c["sequences"]["kept"] == stats["samples"] == c["write"]["sequences"]
    assert extract["opt_out_noai"] >= 1 and read["truncated_record"] == 1
    assert dedup["url_duplicate"] >= 1 and dedup["near_duplicate"] >= 1
    assert c["images"]["private_address"] >= 1  # refused offline, never fetched
    images = c["images"]
    fetched = sum(v for k, v in images.items() if not k.startswith("source_"))
    assert fetched == sum(v for k, v in images.items() if k.startswith("source_"))


def test_same_inputs_give_identical_shards(first, crawl, tmp_path):
    out, stats = first
    again = run_job(crawl, tmp_path, "--split_mb", "1")  # the 2.9 MB crawl read as 3 ranges
    assert tar_hashes(tmp_path) == tar_hashes(out)
    assert tar_hashes(tmp_path / "dropped") == tar_hashes(out / "dropped")  # the dropped sample too
    assert again["counters"] == stats["counters"]


def test_existing_output_needs_resume(first, crawl, tmp_path):
    out, stats = tmp_path / "out", first[1]
    shutil.copytree(first[0], out)  # the shared output stays as the first run wrote it
    with pytest.raises(UsageError, match="already holds shards"):
        run_job(crawl, out)
    before, config = tar_hashes(out), (out / "config.json").read_bytes()
    # --resume refuses options that shape the output, naming them, and leaves config.json alone
    with pytest.raises(UsageError) as e:
        run_job(crawl, out, "--resume", "--max_tokens", "128", "--filter.min_words", "20")
    assert e.value.line().startswith("--resume: options that shape the output differ from config.json: "
                                     "--filter.min_words, --max_tokens"), e.value.line()
    assert (out / "config.json").read_bytes() == config
    # hazards of a resumed output: a planted manifest naming a file outside its shard, one whose
    # tar is missing, a temporary file a killed run left
    (tmp_path / "victim.txt").write_text("not a shard")
    (out / "corpus-00099.manifest.json").write_text(json.dumps(
        {"shard": "../victim.txt", "samples": 1, "images": 0, "bytes": 11, "sha256": "0" * 64, "kind": "pair"}))
    (out / "corpus-00098.manifest.json").write_text(json.dumps(
        {"shard": "corpus-00098.tar", "samples": 1, "images": 0, "bytes": 11, "sha256": "0" * 64, "kind": "pair"}))
    (out / ".corpus-00000.tar.tmp-0123456789ab").write_bytes(b"half a shard")
    # how the job runs (threads) is not what it writes: accepted
    again = run_job(crawl, out, "--resume", "--image.threads", "4")
    assert again["counters"]["write"]["shards_already_complete"] == len(stats["shards"])
    assert tar_hashes(out) == before and again["shards"] == stats["shards"]
    job = json.loads((out / "manifest.json").read_text())
    assert [s["shard"] for s in job["shards"]] == stats["shards"]  # neither planted manifest adopted
    assert not [n for n in os.listdir(out) if ".tmp-" in n]  # temporary files gone after success
    assert (out / "config.json").read_bytes() == config


def test_killed_run_leaves_no_partial_shard_and_resumes(crawl, first, tmp_path):
    out, _ = first
    code = (f"from pipeline.jobs import corpus; corpus.run(['--input', {crawl!r}, '--output', {str(tmp_path)!r}, "
            "'--samples_per_shard', '4', '--runner', 'FnApiRunner'])")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not any(n.endswith(manifest.MANIFEST_SUFFIX) for n in os.listdir(tmp_path)):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for name in os.listdir(tmp_path):
        path = str(tmp_path / name)
        if name.startswith(".") and ".tmp-" in name:
            continue  # an unfinished write, under a hidden temporary name nothing reads
        if name.endswith(".tar"):  # whatever looks like a shard is a whole, valid shard
            assert list(reader.iter_samples([path])), name
        elif name.endswith(".parquet"):
            assert pq.read_table(path).num_rows > 0, name
        elif name.endswith(manifest.MANIFEST_SUFFIX):  # a shard's manifest only beside its whole tar
            assert manifest.is_complete(str(tmp_path), name[: -len(manifest.MANIFEST_SUFFIX)]), name
        else:  # the job's own files (all of them if the kill came after it finished)
            assert name in ("config.json", "_work", "_lock.json", "manifest.json", "stats.json", "report.md",
                            "plots", "dropped", "report.html"), name
    run_job(crawl, tmp_path, "--resume")
    assert tar_hashes(tmp_path) == tar_hashes(out)
