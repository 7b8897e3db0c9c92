"""`python -m train …` / `torchrun --nproc-per-node N -m train …`: the same flags as `flamingo train`."""

from __future__ import annotations

import logging
import os
import sys

from flamingo.typedconfig import UsageError
from train.cli import main


def run(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    rank = os.environ.get("RANK", "0")
    logging.basicConfig(
        level=logging.DEBUG if {"-v", "--verbose"} & set(argv) else logging.INFO if rank == "0" else logging.WARNING,
        format=f"%(asctime)s %(levelname)s [rank {rank}] %(name)s: %(message)s",
    )
    try:
        return main(argv, prog="python -m train")
    except UsageError as e:
        print(f"python -m train: error: {e.line()}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(run())
