"""The corpus job's options: local default runner, and a Dataflow graph built without submitting."""

import apache_beam as beam
from apache_beam.options.pipeline_options import GoogleCloudOptions, PipelineOptions, SetupOptions, StandardOptions

from pipeline.jobs import corpus


def test_default_runner_is_local_multiprocess_fnapi():
    args = corpus.local_runner_args(["--foo"])
    assert args[args.index("--runner") + 1] == "FnApiRunner"
    assert "multi_processing" in args and corpus.is_local(args)
    given = corpus.local_runner_args(["--runner", "DataflowRunner"])
    assert given == ["--runner", "DataflowRunner"] and not corpus.is_local(given)


def test_flags_come_from_the_config():
    args, beam_args = corpus.parse_args(
        ["--input", "a.warc.gz", "b/*.warc.gz", "--output", "out", "--max_tokens", "128",
         "--filter.min_words", "50", "--image.min_side", "200", "--runner", "DataflowRunner"]
    )
    cfg = corpus.config_from_args(corpus.CorpusConfig, args)
    assert args.input == ["a.warc.gz", "b/*.warc.gz"] and cfg.max_tokens == 128
    assert cfg.filter.min_words == 50 and cfg.image.min_side == 200
    assert beam_args == ["--runner", "DataflowRunner"]


def test_dataflow_pipeline_builds_and_options_parse(tmp_path):
    argv = ["--input", "gs://bucket/crawl/*.warc.gz", "--output", "gs://bucket/out",
            "--runner", "DataflowRunner", "--project", "my-project", "--region", "europe-west4",
            "--temp_location", "gs://bucket/tmp", "--setup_file", "./setup.py",
            "--max_num_workers", "64", "--experiments", "use_runner_v2"]
    args, beam_args = corpus.parse_args(argv)
    options = PipelineOptions(corpus.local_runner_args(beam_args))
    gcp = options.view_as(GoogleCloudOptions)
    assert (gcp.project, gcp.region, gcp.temp_location) == ("my-project", "europe-west4", "gs://bucket/tmp")
    assert options.view_as(StandardOptions).runner == "DataflowRunner"
    assert options.view_as(SetupOptions).setup_file == "./setup.py"
    # Build the graph (what submission serialises) on a runner-less pipeline: no job is submitted.
    p = beam.Pipeline(options=PipelineOptions([]))
    cfg = corpus.config_from_args(corpus.CorpusConfig, args)
    corpus.build_pipeline(p, args.input, args.output, cfg, resume=False, progress_root=None)
    proto = p.to_runner_api()
    labels = {t.unique_name for t in proto.components.transforms.values()}
    for stage in ("ReadCrawl", "Extract", "FilterText", "Deduplicate", "AttachImages", "Sequences",
                  "AssignShards", "WriteShards"):
        assert stage in labels, stage
