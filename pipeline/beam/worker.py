"""Entry point of the embedded runner's worker processes: Beam's SDK harness, without its chatter.

``python -m pipeline.beam.worker`` is what the local FnApiRunner runs once per core (see
``pipeline.jobs.runner.make_pipeline``), forked from one process that has imported the harness
(``--zygote``, :mod:`pipeline.beam.zygote`). The harness logs its start-up at INFO before it has
read the job's log level, and warns about things that do not apply to a local worker (no
Google Cloud client libraries, no staged main session); those lines are dropped here, and
everything else at WARNING and above still reaches the job's log.
"""

from __future__ import annotations

import logging
import sys
import time

# Messages Beam logs on every local run that say nothing about the job: no Google Cloud client
# libraries, no staged main session, the embedded runner's own options (unknown to a worker;
# the job refuses unknown options itself, before it starts), and the running mode the
# embedded runner replaces with its own worker processes.
HARMLESS = ("apitools not found", "No semi_persistent_directory found", "No session file found",
            "Discarding unparseable args", "If direct_num_workers is not equal to 1")


class HarmlessFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(HARMLESS)


def quiet_beam_logging() -> None:
    """Drop Beam's known harmless warnings wherever they are logged (launcher or worker)."""
    for name in ("", "apache_beam.runners.worker.sdk_worker_main", "apache_beam.options.pipeline_options",
                 "apache_beam.runners.portability.fn_api_runner.fn_runner"):
        logging.getLogger(name).addFilter(HarmlessFilter())


def bound_native_memory(trim_every_s: float = 5.0) -> None:
    """Keep glibc from holding on to memory the worker has freed.

    A worker's peak RSS was mostly native heap, not Python objects (tracemalloc: ~90 MB of
    ~570 MB): libxml2, image decoders and gRPC free what they allocate, but glibc keeps the
    freed space in up to 8 arenas per core, fragmented, so RSS crept up with every page read
    (591 MB at 5,000 pages, 835 MB at 20,000). Two arenas and a periodic ``malloc_trim`` give
    the space back. No-op where glibc is not the allocator.
    """
    import ctypes
    import ctypes.util
    import threading

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX: before the harness starts its threads
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return

    def loop() -> None:
        while True:
            time.sleep(trim_every_s)
            trim(0)

    threading.Thread(target=loop, name="malloc-trim", daemon=True).start()


# What a worker may hold of its own output that the runner has not taken yet (Beam: 100 MB). A
# stage that only moves data (read, re-key, write) produces faster than the embedded runner
# groups it; with a smaller queue it waits for the runner instead of holding ~100 MB more.
SEND_QUEUE_BYTES = 16 << 20


def bound_outbound_queue(max_bytes: int = SEND_QUEUE_BYTES) -> None:
    """Cap the data plane's queue of messages waiting to leave this worker (a Beam internal,
    read when the harness opens its data channel; if it moves, Beam's default stays)."""
    from apache_beam.runners.worker import data_plane

    if hasattr(data_plane, "_DEFAULT_SEND_QUEUE_MAX_BYTES"):
        data_plane._DEFAULT_SEND_QUEUE_MAX_BYTES = max_bytes


def setup_logging() -> None:
    """WARNING and above to stderr, without Beam's harmless lines (once per process: a worker
    forked from the zygote has it already)."""
    root = logging.getLogger()
    if any(isinstance(f, HarmlessFilter) for h in root.handlers for f in h.filters):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)  # the harness raises the root level to INFO at start
    handler.addFilter(HarmlessFilter())
    root.addHandler(handler)
    quiet_beam_logging()


def main() -> None:
    if sys.argv[1:2] == ["--zygote"]:  # the process the embedded runner forks its workers from
        from pipeline.beam import zygote

        setup_logging()
        zygote.serve(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:])
        return
    bound_native_memory()
    setup_logging()
    bound_outbound_queue()
    from apache_beam.runners.worker import sdk_worker_main

    sdk_worker_main.main(sys.argv)


if __name__ == "__main__":
    main()
