"""The `flamingo` command: one entry point, one module per subcommand in this package.

Each subcommand module has ``SUMMARY`` (its line in ``flamingo --help``) and
``main(argv) -> exit code``, and parses its own arguments (flags generated from its
config). Modules are imported only when their command runs, so ``flamingo inspect``
never pays for importing Beam or torch.

Errors: an expected failure (bad option, missing file, a job that cannot start) is one
line, ``flamingo <cmd>: error: <what> (<hint>)``, exit code 2 (1 for a run that failed
on its data); a traceback only for a bug, or with ``-v``.
"""

from __future__ import annotations

import logging
import sys

from flamingo.typedconfig import UsageError, unknown_option_error

# name -> module (each has SUMMARY and main(argv)); summaries repeated here so --help imports nothing.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "corpus": ("pipeline.cli.corpus", "crawl (WARC/HTML) or OBELICS/MMC4 -> interleaved M3W-style sequence shards (Apache Beam)"),
    "pairs": ("pipeline.cli.pairs", "crawls or URL+caption lists -> image-text pair shards, img2dataset layout"),
    "export": ("pipeline.cli.export", "interleaved shards -> OpenFlamingo's MMC4 tars or OBELICS parquet (Hugging Face)"),
    "train": ("pipeline.cli.train", "train Flamingo on interleaved and pair shards"),
    "eval": ("pipeline.cli.eval", "few-shot evaluation of a checkpoint on a benchmark (CIDEr, VQA accuracy, classification)"),
    "inspect": ("pipeline.cli.inspect", "validate shards and summarise them"),
    "view": ("pipeline.cli.view", "look at shards in the browser (served on 127.0.0.1), or write a self-contained page"),
    "extract": ("pipeline.cli.extract", "show what extraction keeps of one HTML page"),
    "demo": ("pipeline.cli.demo", "sample crawl -> corpus and pairs jobs -> a Flamingo learns to see synthetic shapes, offline"),
}
VERBOSE = ("-v", "--verbose")


def usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    lines = ["usage: flamingo [-v] COMMAND [options]", "",
             "Flamingo Kit: web crawls to interleaved image-text shards, and Flamingo training.", "",
             "commands:"]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in SUBCOMMANDS.items()]
    lines += ["", "  -v, --verbose  debug logging and full tracebacks",
              "", "flamingo COMMAND --help shows a command's options."]
    return "\n".join(lines)


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s" if verbose else "%(message)s")
    if not verbose:  # Beam and matplotlib narrate every step at INFO
        for noisy in ("apache_beam", "matplotlib", "urllib3", "filelock", "PIL"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        from pipeline.beam.worker import quiet_beam_logging

        quiet_beam_logging()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    verbose = bool(set(argv[: argv.index("--")] if "--" in argv else argv) & set(VERBOSE))
    while argv and argv[0] in VERBOSE:
        argv.pop(0)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        e = unknown_option_error(name, SUBCOMMANDS) if name.startswith("-") else UsageError(
            f"unknown command {name!r}", f"commands: {', '.join(SUBCOMMANDS)}")
        print(f"flamingo: error: {e.line()}", file=sys.stderr)
        return 2
    setup_logging(verbose)
    import importlib

    try:
        return int(importlib.import_module(SUBCOMMANDS[name][0]).main(rest) or 0)
    except UsageError as e:
        if verbose:
            raise
        print(f"flamingo {name}: error: {e.line()}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # a disk that filled, a file that vanished: not a bug, but no usage error either
        if verbose:
            raise
        where = f": {e.filename}" if e.filename else ""
        print(f"flamingo {name}: error: {e.strerror or e}{where} (rerun with -v for details)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"flamingo {name}: interrupted", file=sys.stderr)
        return 130
