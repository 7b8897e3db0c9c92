"""The deadline watchdog shuts a socket down at its own deadline, whatever was armed before it."""

from __future__ import annotations

import socket
import time

from pipeline.images.deadline import Watchdog


def test_earlier_deadline_armed_after_a_later_one_still_fires_on_time():
    watchdog = Watchdog()
    late, late_peer = socket.socketpair()
    soon, soon_peer = socket.socketpair()
    try:
        watchdog.arm(late, time.monotonic() + 30)  # the watchdog now sleeps towards this one
        start = time.monotonic()
        watchdog.arm(soon, start + 0.2)  # so it must be woken for this one
        soon.settimeout(20)  # generous for a loaded machine, and still well before the late one
        assert soon.recv(1) == b""  # shut down under us
        assert time.monotonic() - start < 20  # woken for it, not asleep towards the 30 s deadline
        late.setblocking(False)
        late_peer.send(b"x")
        time.sleep(0.05)
        assert late.recv(1) == b"x"  # the later one is untouched
    finally:
        watchdog.close()
        for sock in (late, late_peer, soon, soon_peer):
            sock.close()


def test_disarmed_sockets_are_never_shut_down():
    watchdog = Watchdog()
    sock, peer = socket.socketpair()
    try:
        watchdog.disarm(watchdog.arm(sock, time.monotonic() + 0.1))
        time.sleep(0.3)
        peer.send(b"x")
        sock.settimeout(2)
        assert sock.recv(1) == b"x"
    finally:
        watchdog.close()
        sock.close()
        peer.close()
