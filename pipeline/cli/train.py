"""`flamingo train --preset NAME [--config FILE] [--section.field=value …]` (see ``train.cli``)."""

SUMMARY = "train Flamingo on interleaved and pair shards"


def main(argv: list[str]) -> int:
    from train.cli import main as train_main

    return train_main(argv)
