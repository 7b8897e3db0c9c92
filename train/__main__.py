"""`python -m train …` / `torchrun --nproc-per-node N -m train …`: the same flags as `flamingo train`."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from pipeline.cli.train import configure, run


def main(argv: list[str] | None = None) -> int:
    parser = configure(argparse.ArgumentParser(prog="python -m train", description=__doc__))
    args = parser.parse_args(argv)
    rank = os.environ.get("RANK", "0")
    logging.basicConfig(
        level=logging.INFO if rank == "0" else logging.WARNING,
        format=f"%(asctime)s %(levelname)s [rank {rank}] %(name)s: %(message)s",
    )
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
