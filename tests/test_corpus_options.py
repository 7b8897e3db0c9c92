"""The corpus job's options: the local default runner, checks before any work, a Dataflow graph
built without submitting."""

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import (
    GoogleCloudOptions,
    PipelineOptions,
    SetupOptions,
    StandardOptions,
)

from flamingo.typedconfig import UsageError
from pipeline.jobs import corpus, runner


def test_default_runner_is_the_embedded_fnapi_runner_with_options_for_its_workers():
    args = runner.local_runner_args(["--s3_endpoint_url=http://127.0.0.1:9"])
    assert runner.is_local(args) and "--default_sdk_harness_log_level=WARNING" in args
    p = runner.make_pipeline(args)
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    assert isinstance(p.runner, FnApiRunner)
    assert b"pipeline/beam/zygote.py" in p.runner._default_environment.to_runner_api(None).payload  # forked workers
    shipped = p.runner._provision_info.provision_info.pipeline_options
    assert shipped["beam:option:s3_endpoint_url:v1"] == "http://127.0.0.1:9"
    given = runner.local_runner_args(["--runner", "DataflowRunner"])
    assert given == ["--runner", "DataflowRunner"] and not runner.is_local(given)


def test_flags_come_from_the_config():
    args, cfg, beam_args = corpus.parse_args(
        ["--input", "a.warc.gz", "b/*.warc.gz", "--output", "out", "--max_tokens", "128",
         "--filter.min_words=50", "--image.min_side", "200", "--extract.min_text_chars", "80",
         "--filter.languages", "en,de", "--runner", "DataflowRunner"])
    assert args.input == ["a.warc.gz", "b/*.warc.gz"] and cfg.max_tokens == 128
    assert cfg.filter.min_words == 50 and cfg.image.min_side == 200 and cfg.extract.min_text_chars == 80
    assert cfg.filter.languages == ("en", "de")
    assert beam_args == ["--runner", "DataflowRunner"]


@pytest.mark.parametrize(("flags", "message"), [
    (["--max_tokens", "0"], "--max_tokens: 0 is out of range (allowed: 16 to 1048576)"),
    (["--max_tokens", "-1"], "--max_tokens: -1 is out of range"),
    (["--max_images", "0"], "--max_images: 0 is out of range (allowed: 1 to 64)"),
    (["--samples_per_shard", "0"], "--samples_per_shard: 0 is out of range"),
    (["--samples_per_shard", "-3"], "--samples_per_shard: -3 is out of range"),
    (["--shard_prefix", "../x"], "--shard_prefix: '../x' cannot start a shard file name"),
    (["--filter.min_words", "50", "--filter.max_words", "10"], "--filter.min_words: 50 is above max_words 10"),
    (["--filter.filters", "language,vibes"], "--filter.filters: unknown text rule 'vibes'"),
    (["--dedup.threshold", "0"], "--dedup.threshold: 0.0 is out of range (allowed: > 0.0 and <= 1.0)"),
    (["--image.threads", "0"], "--image.threads: 0 is out of range"),
    (["--image.resize_mode", "stretch"], "--image.resize_mode: 'stretch' is not allowed"),
    (["--keep_work", "maybe"], "--keep_work: expected true or false, got 'maybe'"),
    (["--filtr.min_words", "5"], "unknown option --filtr.min_words (did you mean --filter.min_words?)"),
    (["--filter.bogus", "5"], "unknown option --filter.bogus"),
    (["--max-tokens", "5"], "unknown option --max-tokens (did you mean --max_tokens?)"),
    (["--runer", "DataflowRunner"], "unknown option --runer (did you mean --runner?)"),
])
def test_bad_values_are_refused_before_any_work(flags, message):
    with pytest.raises(UsageError) as e:
        corpus.parse_args(["--input", "a.warc.gz", "--output", "out", *flags])
    assert e.value.line().startswith(message), e.value.line()


def test_inputs_and_output_are_checked_at_launch(tmp_path):
    with pytest.raises(UsageError, match="matches no file"):
        runner.match_inputs([str(tmp_path / "nope" / "*.warc.gz")], lambda p: True, "")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UsageError) as e:
        corpus.run(["--input", str(tmp_path), "--output", str(tmp_path / "out")])
    assert e.value.line().startswith("none of the 1 input files is of a known type (known: .warc")
    (tmp_path / "page.html").write_text("<p>x</p>")
    with pytest.raises(UsageError, match="is a file"):
        corpus.run(["--input", str(tmp_path / "page.html"), "--output", str(tmp_path / "notes.txt")])


@pytest.mark.parametrize(("name", "message"), [
    ("/no/such/tokenizer", "--tokenizer /no/such/tokenizer: no such directory"),
    ("not-a-tokenizer-anywhere", "--tokenizer not-a-tokenizer-anywhere cannot be loaded"),
])
def test_a_tokenizer_that_cannot_load_fails_at_launch(name, message):
    _, cfg, _ = corpus.parse_args(["--input", "a.warc.gz", "--output", "o", "--tokenizer", name])
    with pytest.raises(UsageError, match=message):
        corpus.check_assets(cfg)


def test_dataflow_pipeline_builds_and_options_parse():
    argv = ["--input", "gs://bucket/crawl/*.warc.gz", "--output", "gs://bucket/out",
            "--runner", "DataflowRunner", "--project", "my-project", "--region", "europe-west4",
            "--temp_location", "gs://bucket/tmp", "--setup_file", "./setup.py",
            "--max_num_workers", "64", "--experiments", "use_runner_v2"]
    args, cfg, beam_args = corpus.parse_args(argv)
    options = PipelineOptions(runner.local_runner_args(beam_args))
    gcp = options.view_as(GoogleCloudOptions)
    assert (gcp.project, gcp.region, gcp.temp_location) == ("my-project", "europe-west4", "gs://bucket/tmp")
    assert options.view_as(StandardOptions).runner == "DataflowRunner"
    assert options.view_as(SetupOptions).setup_file == "./setup.py"
    # Build the graph (what submission serialises) on a runner-less pipeline: no job is submitted.
    p = beam.Pipeline(options=PipelineOptions([]))
    corpus.build_pipeline(p, args.input, args.output, cfg, resume=False, progress_root=None)
    proto = p.to_runner_api()
    labels = {t.unique_name for t in proto.components.transforms.values()}
    for stage in ("ReadCrawl", "Extract", "FilterText", "Deduplicate", "AttachImages", "Sequences",
                  "AssignShards", "WriteShards"):
        assert stage in labels, stage
