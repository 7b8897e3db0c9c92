"""`flamingo export`: see :mod:`pipeline.jobs.export` (its options are its config's flags)."""

SUMMARY = "interleaved shards -> OpenFlamingo's MMC4 tars or OBELICS parquet (Hugging Face)"


def main(argv: list[str]) -> int:
    from pipeline.jobs import export

    export.run(argv)
    return 0
