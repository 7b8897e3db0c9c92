"""`flamingo pairs`: see :mod:`pipeline.jobs.pairs` (its options are its config's flags)."""

SUMMARY = "crawls or URL+caption lists -> image-text pair shards, img2dataset layout"


def main(argv: list[str]) -> int:
    from pipeline.jobs import pairs

    pairs.run(argv)
    return 0
