"""Pid files and the processes behind them: reading, ownership, spawning, stopping, logs."""

from __future__ import annotations

import os
import sys
import time

import pytest

from livetally import pidfiles

# The log's first line repeats the command; the marker printed is built at run time so
# that only the running process can write it.
SLEEPER = "import time; print('sleeper' + ' up', flush=True); time.sleep(60)"


@pytest.mark.parametrize(
    ("text", "pid"),
    [("4242\n", 4242), (" 17 ", 17), ("0", None), ("-5", None), ("pid", None), ("", None)],
)
def test_a_pid_file_holds_one_positive_number(tmp_path, text, pid):
    path = tmp_path / "x.pid"
    path.write_text(text, encoding="ascii")
    assert pidfiles.read_pid(path) == pid


def test_a_missing_or_binary_pid_file_is_no_pid(tmp_path):
    assert pidfiles.read_pid(tmp_path / "none.pid") is None
    binary = tmp_path / "bin.pid"
    binary.write_bytes(b"\xff\xfe12")
    assert pidfiles.read_pid(binary) is None


def test_the_command_line_of_a_live_process_and_none_for_a_gone_one(tmp_path):
    cmdline = pidfiles.process_cmdline(os.getpid())
    assert cmdline is not None and any("python" in part for part in cmdline)
    pid = pidfiles.spawn(
        [sys.executable, "-c", "pass"], log_path=tmp_path / "x.log", pid_path=tmp_path / "x.pid"
    )
    deadline = time.monotonic() + 10
    while pidfiles.process_cmdline(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pidfiles.process_cmdline(pid) is None  # ended and reaped: no zombie left


def test_a_pid_is_ours_only_with_every_marker_and_a_pid_file_not_older_than_it(tmp_path):
    path = tmp_path / "me.pid"
    path.write_text(f"{os.getpid()}\n", encoding="ascii")
    assert pidfiles.owned_pid(path, ["python"]) == os.getpid()
    assert pidfiles.owned_pid(path, ["python", "no-such-marker-livetally"]) is None
    os.utime(path, (0, 0))  # written long before this process started: a reused pid
    assert pidfiles.owned_pid(path, ["python"]) is None
    assert pidfiles.owned_pid(tmp_path / "none.pid", ["python"]) is None


def test_a_spawned_process_logs_to_its_file_and_is_stopped_with_its_group(tmp_path):
    log, pid_path = tmp_path / "logs" / "s.log", tmp_path / "run" / "s.pid"
    pid = pidfiles.spawn([sys.executable, "-c", SLEEPER], log_path=log, pid_path=pid_path)
    try:
        assert pidfiles.read_pid(pid_path) == pid
        assert not (tmp_path / "run" / "s.pid.tmp").exists()
        assert pidfiles.spawned_and_running(pid)
        assert os.getpgid(pid) == pid  # its own session, so its group can be signalled
        deadline = time.monotonic() + 10
        while (
            "sleeper up" not in pidfiles.tail(log).splitlines()[1:] and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert pidfiles.tail(log).splitlines()[0].startswith("--- ")
        assert pidfiles.tail(log).splitlines()[1:] == ["sleeper up"]
        assert pidfiles.owned_pid(pid_path, ["-c", "'sleeper' + ' up'"]) == pid
        assert pidfiles.terminate_group([pid], timeout_s=10) == []  # SIGTERM was enough
        assert not pidfiles.spawned_and_running(pid)
        assert pidfiles.process_cmdline(pid) is None
    finally:
        pidfiles.terminate_group([pid], timeout_s=1)


def test_a_process_that_ignores_sigterm_is_killed_and_named(tmp_path):
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('re' + 'ady', flush=True); time.sleep(60)"
    )
    log = tmp_path / "stubborn.log"
    pid = pidfiles.spawn([sys.executable, "-c", stubborn], log_path=log, pid_path=tmp_path / "p")
    try:
        deadline = time.monotonic() + 10
        while "ready" not in pidfiles.tail(log).splitlines()[1:] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pidfiles.terminate_group([pid], timeout_s=0.3) == [pid]
        assert pidfiles.process_cmdline(pid) is None
    finally:
        pidfiles.terminate_group([pid], timeout_s=0.3)


def test_tail_gives_the_last_lines_and_nothing_for_a_missing_file(tmp_path):
    path = tmp_path / "big.log"
    path.write_text("".join(f"line {i}\n" for i in range(100_000)), encoding="utf-8")
    assert pidfiles.tail(path, lines=3) == "line 99997\nline 99998\nline 99999"
    assert pidfiles.tail(tmp_path / "none.log") == ""
