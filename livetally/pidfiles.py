"""Background processes livetally starts: pid files, ownership checks, spawning, stopping."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "owned_pid",
    "process_cmdline",
    "read_pid",
    "spawn",
    "spawned_and_running",
    "tail",
    "terminate_group",
]

_START_SLACK_S = 2.0
"""How much later than its pid file a process may seem to have started (clock rounding)."""

_children: dict[int, subprocess.Popen[bytes]] = {}
"""Processes started by this interpreter, kept so they can be reaped when they end."""


def read_pid(path: Path) -> int | None:
    """The pid written in ``path``, or None when the file is missing or not a pid."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def _reap() -> None:
    """Collect the exit status of our own children that have ended (no zombies)."""
    for pid, child in list(_children.items()):
        if child.poll() is not None:
            del _children[pid]


def spawned_and_running(pid: int) -> bool:
    """True while ``pid`` is a child this interpreter spawned and it has not exited."""
    child = _children.get(pid)
    return child is not None and child.poll() is None


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name, or None off Linux or when gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return raw.rsplit(")", 1)[-1].split()


def _is_alive(pid: int) -> bool:
    """True when ``pid`` is a running (not zombie) process."""
    _reap()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _proc_stat(pid)
    return fields is None or fields[0] not in ("Z", "X")


def process_cmdline(pid: int) -> list[str] | None:
    """The command line of a live process, or None when it is gone or unreadable."""
    if not _is_alive(pid):
        return None
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        raw = b""
    except OSError:
        return None
    if raw:
        return [part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0")]
    # Not Linux (or no /proc): ask ps; the line is split on spaces, which is enough
    # for the substring checks made on it.
    try:
        out = subprocess.run(
            ["ps", "-o", "args=", "-p", str(pid)],
            capture_output=True,
            text=True,
            check=False,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out.split() if out else None


def _started_at(pid: int) -> float | None:
    """When the process started (epoch seconds), from /proc; None where unknown."""
    fields = _proc_stat(pid)
    if fields is None or len(fields) < 20:
        return None
    try:
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text(encoding="ascii").splitlines()
            if line.startswith("btime ")
        )
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError):
        return None
    return boot + int(fields[19]) / ticks


def owned_pid(path: Path, markers: Sequence[str]) -> int | None:
    """The pid in ``path`` if it is a live process of ours, else None.

    Ours means: its command line contains every one of ``markers`` and it started
    no later than the pid file was written (a reused pid belongs to a newer process).
    """
    pid = read_pid(path)
    if pid is None:
        return None
    cmdline = process_cmdline(pid)
    if cmdline is None:
        return None
    joined = " ".join(cmdline)
    if not all(marker in joined for marker in markers):
        return None
    started = _started_at(pid)
    try:
        written = path.stat().st_mtime
    except OSError:
        return None
    if started is not None and started > written + _START_SLACK_S:
        return None
    return pid


def spawn(
    argv: Sequence[str],
    *,
    log_path: Path,
    pid_path: Path,
    env: Mapping[str, str] | None = None,
) -> int:
    """Start ``argv`` in its own session, output appended to ``log_path``; write its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pid_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"--- {stamp} livetally started: {' '.join(argv)}\n".encode())
        log.flush()
        child = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=None if env is None else dict(env),
        )
    _children[child.pid] = child
    tmp = pid_path.with_suffix(".pid.tmp")
    tmp.write_text(f"{child.pid}\n", encoding="ascii")
    tmp.replace(pid_path)
    return child.pid


def _group_alive(pid: int) -> bool:
    """True while the process group led by ``pid`` (or ``pid`` itself) has live members."""
    _reap()
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return _is_alive(pid)
    except PermissionError:
        return True
    # killpg also sees zombies; when the leader is our reaped child, trust the leader.
    return _is_alive(pid) or _group_has_live_member(pid)


def _group_has_live_member(pgid: int) -> bool:
    """Whether a non-zombie process is in group ``pgid`` (Linux; True where unknown)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _proc_stat(int(entry.name))
        if fields and len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in "ZX":
            return True
    return False


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the group ``pid`` leads, or to ``pid`` alone if it leads none."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
            return
    except ProcessLookupError:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)  # members left behind by a leader that already ended


def terminate_group(pids: Sequence[int], timeout_s: float) -> list[int]:
    """SIGTERM each process group, wait up to ``timeout_s``, SIGKILL what remains.

    Returns the pids that had to be killed.
    """
    for pid in pids:
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(_group_alive(pid) for pid in pids):
        time.sleep(0.1)
    killed = [pid for pid in pids if _group_alive(pid)]
    for pid in killed:
        _signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(_group_alive(pid) for pid in killed):
        time.sleep(0.05)
    return killed


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a text file ('' when it does not exist)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
