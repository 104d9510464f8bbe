"""Free loopback ports and process lookups shared by the tests that start real services."""

from __future__ import annotations

import random
import socket
from pathlib import Path

__all__ = ["free_port", "free_port_block", "free_port_pair", "processes_mentioning"]


_GIVEN: set[int] = set()
"""Ports handed out in this process: never handed out twice, as the first may not be bound
yet when the second is asked for."""


def free_port() -> int:
    """A port free now, below the ephemeral range.

    A port the kernel picks for ``bind(0)`` lies in the ephemeral range, where any outgoing
    connection (a Kafka client's, say) may take it as its local port before the service
    that was meant to listen on it starts: "Address already in use".
    """
    return free_port_block(1)


def free_port_block(size: int, preferred: int | None = None) -> int:
    """A base port B with B..B+size-1 free, below the ephemeral range; ``preferred`` first."""
    rnd = random.Random()
    candidates = [preferred] if preferred else []
    candidates += [rnd.randrange(20000, 32000, 2) for _ in range(400)]
    for base in candidates:
        block = set(range(base, base + size))
        if block & _GIVEN:
            continue
        socks: list[socket.socket] = []
        try:
            for port in range(base, base + size):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
        _GIVEN.update(block)
        return base
    raise RuntimeError(f"no free block of {size} ports")


def free_port_pair() -> int:
    """A port P such that P and P + 1 are both free (a Kafka node's client and controller)."""
    return free_port_block(2)


def processes_mentioning(text: str) -> list[int]:
    """Pids of the processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found
