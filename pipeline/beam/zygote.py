"""The embedded runner's workers forked from one warm process instead of each started afresh.

A worker of the embedded runner is a fresh Python that imports Beam's SDK harness and the stages'
modules before it does any work: ~2 CPU seconds each here (``python -c "import
apache_beam.runners.worker.sdk_worker_main"``), most of the corpus job's fixed cost against a
process pool that forks its workers from a parent that has imported everything.

So the launcher starts one *zygote* (``python -m pipeline.beam.worker --zygote``, ~1 CPU s) that
imports the harness and the job's modules once and forks a worker for every worker command Beam
runs. Beam still starts a command per worker (:attr:`Zygote.command`): this file run as a script
(standard library only, ``python -E -S``: ~30 ms of CPU), a client that hands the zygote its arguments,
environment, working directory and standard streams over a Unix socket in a private directory,
forwards signals to the worker and exits with the worker's status. The worker is then what
``python -m pipeline.beam.worker`` would be, with the same environment (Beam's control and
logging addresses, the pipeline options), streams and exit status; only its hash seed is the
zygote's (nothing in a job depends on one: tested by the distributed harness).

Lifetimes: the zygote reaps its workers (so their CPU time is accounted to the launcher, which
reaps the zygote in :meth:`Zygote.stop`); a client that is killed takes its worker with it; the
zygote ends with the launcher (a pipe it watches), killing any worker left. Linux only (pidfd);
elsewhere the runner starts plain worker processes.
Used only for the embedded runner's own workers: a runner's or a test harness's workers start as
they always do.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # the client: the standard library only, never this package's folder
    del sys.path[0]

import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402

log = logging.getLogger(__name__)

_HEADER = 8  # bytes of the request's length, sent with the three standard streams


# ----------------------------------------------------------------------------- the client


def client(path: str, argv: list[str]) -> int:
    """Run one worker in the zygote listening at ``path``; its exit status."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    body = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
    socket.send_fds(sock, [len(body).to_bytes(_HEADER, "big")], [0, 1, 2])
    sock.sendall(body)
    replies = sock.makefile("rb")
    pid = int(replies.readline().split()[1])
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, _frame: os.kill(pid, s))
    line = replies.readline()
    if not line:
        print(f"worker {pid}: the zygote went away", file=sys.stderr)
        return 1
    code = int(line.split()[1])
    return code if code >= 0 else 128 - code  # killed by signal -code: the shell's convention


# ----------------------------------------------------------------------------- the zygote


class Zygote:
    """The launcher's handle on its zygote: :attr:`command` for Beam, :meth:`stop` after the run."""

    def __init__(self, process, lifeline: int, folder: str) -> None:
        self._process, self._lifeline, self._folder = process, lifeline, folder
        self.command = f"{sys.executable} -E -S {os.path.abspath(__file__)} {os.path.join(folder, 'socket')}"

    @classmethod
    def start(cls, entry: str, preload: list[str]) -> Zygote | None:
        """Start a zygote that imports ``preload`` and runs ``entry`` ("module:function") in every
        worker it forks; None where it cannot (not Linux, no short socket path). Workers may ask
        for it at once: its socket listens before it has started."""
        import atexit
        import subprocess
        import tempfile

        if not hasattr(os, "pidfd_open"):
            return None
        folder = tempfile.mkdtemp(prefix="flamingo-workers-")  # mode 0700: this user's workers only
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        read_end = write_end = -1
        try:
            listener.bind(os.path.join(folder, "socket"))
            listener.listen(64)
            read_end, write_end = os.pipe()
            process = subprocess.Popen(
                [sys.executable, "-m", "pipeline.beam.worker", "--zygote", str(listener.fileno()), str(read_end),
                 entry, *preload], pass_fds=(listener.fileno(), read_end), stdin=subprocess.DEVNULL)
        except OSError as e:  # e.g. a socket path past the kernel's 108 bytes under a long TMPDIR
            log.info("workers start afresh, without a zygote: %s", e)
            if write_end >= 0:
                os.close(write_end)
            return None
        finally:
            listener.close()
            if read_end >= 0:
                os.close(read_end)
        zygote = cls(process, write_end, folder)
        atexit.register(zygote.stop)
        return zygote

    def stop(self) -> None:
        """End the zygote (it kills any worker still running) and reap it; idempotent."""
        import shutil

        if self._lifeline < 0:
            return
        os.close(self._lifeline)
        self._lifeline = -1
        self._process.wait()
        shutil.rmtree(self._folder, ignore_errors=True)


def serve(listener_fd: int, lifeline: int, entry: str, preload: list[str]) -> None:
    """The zygote: ``python -m pipeline.beam.worker --zygote LISTENER LIFELINE ENTRY MODULE...``."""
    import importlib

    for name in preload:
        try:
            importlib.import_module(name)
        except ImportError:  # the worker that needs it imports it again, and reports the error there
            continue
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the launcher and the workers
    module, _, function = entry.partition(":")
    run = getattr(importlib.import_module(module), function)
    _serve(socket.socket(fileno=listener_fd), lifeline, run)


def _serve(listener: socket.socket, lifeline: int, run) -> None:
    """The zygote's loop: a worker forked per request, reaped and reported; ends with the lifeline."""
    import gc
    import selectors

    gc.freeze()  # what the zygote imported stays shared with the workers (no collector writes)
    workers: dict[int, socket.socket | None] = {}  # pid -> its client's connection (None: gone)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, ("accept", 0))
    sel.register(lifeline, selectors.EVENT_READ, ("lifeline", 0))
    while True:
        for key, _ in sel.select():
            kind, pid = key.data
            if kind == "lifeline":  # the launcher is done (or gone): so are its workers
                for pid in workers:
                    os.kill(pid, signal.SIGKILL)
                for pid in workers:
                    os.waitpid(pid, 0)
                return
            if kind == "accept":
                conn, _ = listener.accept()
                try:
                    pid = _fork_worker(conn, listener, lifeline, run)
                except (OSError, ValueError) as e:  # a broken request: that client fails, not the rest
                    print(f"flamingo worker zygote: {e!r}", file=sys.stderr)
                    conn.close()
                    continue
                workers[pid] = conn
                sel.register(os.pidfd_open(pid), selectors.EVENT_READ, ("exited", pid))
                sel.register(conn, selectors.EVENT_READ, ("client", pid))
            elif kind == "client":  # the client was killed (EOF): its worker goes too
                os.kill(pid, signal.SIGKILL)
                sel.unregister(key.fileobj)
                key.fileobj.close()
                workers[pid] = None
            else:  # the worker exited: reap it, tell its client
                sel.unregister(key.fileobj)
                os.close(key.fileobj)
                code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
                conn = workers.pop(pid)
                if conn is not None:
                    sel.unregister(conn)
                    try:
                        conn.sendall(f"exit {code}\n".encode())
                    except OSError:
                        pass
                    conn.close()


def _fork_worker(conn: socket.socket, listener: socket.socket, lifeline: int, run) -> int:
    """Fork a worker for the request on ``conn``; its pid (sent to the client too)."""
    header, fds, _, _ = socket.recv_fds(conn, _HEADER, 3)
    size = int.from_bytes(header, "big")
    body = b""
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise ConnectionError("worker request cut short")
        body += chunk
    request = json.loads(body)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            listener.close()
            os.close(lifeline)
            conn.close()
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
                os.close(fd)
            code = _run_worker(request, run)
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    conn.sendall(f"pid {pid}\n".encode())
    return pid


def _run_worker(request: dict, run) -> int:
    """In the forked worker: ``run()`` in the client's place (its arguments, environment, folder)."""
    import traceback

    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = [sys.argv[0], *request["argv"]]
    try:
        run()
        return 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass


if __name__ == "__main__":
    sys.exit(client(sys.argv[1], sys.argv[2:]))
