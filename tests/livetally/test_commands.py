"""What the subcommands do, for those that need no Kafka: the compose secrets and refusals."""

from __future__ import annotations

import argparse

import pytest

from contract.settings import Settings
from livetally import commands
from livetally.cli import build_parser
from livetally.exceptions import LivetallyError


def _dispatch(tmp_path, *argv: str) -> int:
    return commands.dispatch(build_parser().parse_args(list(argv)), Settings(home=tmp_path), {})


@pytest.mark.parametrize("owner", [["--kafka-owner", "kafka"], ["--service-owner", "1000:staff"]])
def test_an_owner_that_is_not_numbers_is_a_usage_error(tmp_path, owner):
    with pytest.raises(commands.BadArgument, match="UID") as info:
        _dispatch(tmp_path, "kafka", "secrets", str(tmp_path / "secrets"), *owner)
    assert info.value.exit_code == 2
    assert not (tmp_path / "secrets").exists()


def test_secrets_that_cannot_be_written_name_the_directory(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("a file, not a directory\n")
    with pytest.raises(LivetallyError, match=r"cannot write the secrets under .*taken") as info:
        _dispatch(tmp_path, "kafka", "secrets", str(taken))
    assert not isinstance(info.value, commands.BadArgument)  # a runtime error: exit 1


def test_secrets_are_written_and_the_directory_named(tmp_path, capsys):
    out = tmp_path / "secrets"
    assert _dispatch(tmp_path, "kafka", "secrets", str(out)) == 0
    assert capsys.readouterr().out.strip() == f"secrets of docker-compose.secure.yml in {out}"
    assert (out / "kafka" / "server.properties").is_file()


def test_a_command_argparse_does_not_know_is_a_programming_error(tmp_path):
    with pytest.raises(ValueError, match="unknown command 'nope'"):
        commands.dispatch(argparse.Namespace(command="nope"), Settings(home=tmp_path), {})
