"""`flamingo corpus`: see :mod:`pipeline.jobs.corpus` (its options are its config's flags)."""

SUMMARY = "crawl (WARC/HTML) or OBELICS/MMC4 -> interleaved M3W-style sequence shards (Apache Beam)"


def main(argv: list[str]) -> int:
    from pipeline.jobs import corpus

    corpus.run(argv)
    return 0
