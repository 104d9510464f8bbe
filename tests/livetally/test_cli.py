"""The command line's conventions: version, help, exit status, log level, the home."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from contract.settings import SettingsError
from livetally import __version__, cli
from livetally.cli import build_parser, main
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]


def test_version_prints_the_package_version_and_exits_0(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"livetally {__version__}"
    assert __version__[0].isdigit()


def test_bare_livetally_prints_the_help_and_exits_2(capsys):
    assert main([], environ={}) == cli.EXIT_USAGE == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: livetally")
    assert "exit status:" in err and "partner" in err


def test_a_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as done:
        main(["partner", "add"])
    assert done.value.code == 2


def test_a_runtime_error_exits_1_with_one_line(tmp_path, capsys):
    environ = {"LIVETALLY_HOME": str(tmp_path), "LIVETALLY_KAFKA_PORT": str(free_port())}
    assert main(["partner", "list"], environ=environ) == cli.EXIT_ERROR == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("livetally: Kafka is not reachable")


def test_a_bad_setting_exits_1(tmp_path, capsys):
    environ = {"LIVETALLY_HOME": str(tmp_path), "LIVETALLY_KAFKA_PORT": "ninety"}
    assert main(["status"], environ=environ) == 1
    assert "LIVETALLY_KAFKA_PORT" in capsys.readouterr().err


def test_a_bad_registration_value_is_a_usage_error(tmp_path, capsys, monkeypatch):
    from livetally import admin

    def refuse(args, settings):
        raise admin.InvalidRegistration("unknown time zone 'Mars/Olympus'")

    monkeypatch.setattr(admin, "run", refuse)
    environ = {"LIVETALLY_HOME": str(tmp_path)}
    assert main(["stream", "add", "s", "--title", "t", "--tz", "Mars/Olympus"], environ) == 2
    assert "Mars/Olympus" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "verbose", "quiet", "level"),
    [
        ({}, 0, 0, logging.INFO),
        ({}, 1, 0, logging.DEBUG),
        ({}, 3, 0, logging.DEBUG),
        ({}, 0, 1, logging.WARNING),
        ({}, 0, 2, logging.ERROR),
        ({"LIVETALLY_LOG_LEVEL": "warning"}, 0, 0, logging.WARNING),
        ({"LIVETALLY_LOG_LEVEL": "WARNING"}, 1, 0, logging.INFO),
        ({"LIVETALLY_LOG_LEVEL": "10"}, 0, 0, logging.DEBUG),
        ({"LIVETALLY_LOG_LEVEL": " "}, 0, 0, logging.INFO),
    ],
)
def test_log_level_from_the_environment_and_flags(env, verbose, quiet, level):
    assert cli.log_level(env, verbose, quiet) == level


def test_an_unknown_log_level_is_named():
    with pytest.raises(SettingsError, match="LIVETALLY_LOG_LEVEL"):
        cli.log_level({"LIVETALLY_LOG_LEVEL": "loud"}, 0, 0)


@pytest.mark.parametrize(
    "argv",
    [["-v", "status"], ["status", "-v"], ["partner", "list", "-v"], ["-v", "partner", "list"]],
)
def test_verbose_counts_before_or_after_the_command(argv):
    args = build_parser().parse_args(argv)
    assert (args.verbose, args.quiet) == (1, 0)


def test_quiet_after_a_nested_command():
    args = build_parser().parse_args(["kafka", "status", "-qq"])
    assert (args.verbose, args.quiet) == (0, 2)


def test_the_home_is_the_checkouts_from_any_directory_inside_it(tmp_path):
    checkout = tmp_path / "livetally"
    (checkout / "docs" / "deep").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\n")
    assert cli.checkout_home(checkout, checkout) == checkout / ".livetally"
    assert cli.checkout_home(checkout / "docs" / "deep", checkout) == checkout / ".livetally"
    assert cli.checkout_home(tmp_path, checkout) is None
    installed = tmp_path / "site-packages"
    installed.mkdir()
    assert cli.checkout_home(installed, installed) is None  # no pyproject: not a checkout


def test_settings_environ_sets_the_home_only_when_unset(tmp_path):
    inside = cli.settings_environ({}, REPO / "docs")
    assert inside["LIVETALLY_HOME"] == str(REPO / ".livetally")
    given = cli.settings_environ({"LIVETALLY_HOME": "/srv/lt"}, REPO / "docs")
    assert given["LIVETALLY_HOME"] == "/srv/lt"
    assert "LIVETALLY_HOME" not in cli.settings_environ({}, tmp_path)


def test_status_finds_the_checkouts_home_from_a_subdirectory(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "LIVETALLY_KAFKA_PORT": str(free_port())}
    done = subprocess.run(
        [sys.executable, "-m", "livetally", "kafka", "status"],
        cwd=REPO / "docs",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert str(REPO / ".livetally") in done.stdout


@pytest.mark.parametrize(
    ("argv", "example"),
    [
        (["send"], "livetally send events.ndjson"),
        (["export"], "livetally export carnival-2024"),
        (["partner", "add"], "livetally partner add scnews"),
        (["partner", "rotate-key"], "livetally partner rotate-key scnews"),
        (["demo"], "livetally demo --speed 10"),
    ],
)
def test_help_shows_examples(argv, example, capsys):
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and example in out
