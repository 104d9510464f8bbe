"""The partner SDK in a fresh virtualenv that holds httpx and nothing else.

``test_imports.py`` proves the same by blocking modules inside this venv; here nothing is
blocked because nothing else is installed: the SDK's sources come from the repository
through ``PYTHONPATH``, its one dependency from PyPI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import REPO

VENV_TOOLS = {"pip", "setuptools"}
"""What ``python -m venv`` puts into every new virtualenv."""

PROBE = """
import importlib
import json
import pkgutil
import sys


def third_party(names):
    \"\"\"The top-level modules among ``names`` that are neither stdlib nor built in.\"\"\"
    tops = {name.partition(".")[0] for name in names if sys.modules.get(name) is not None}
    return {
        top: getattr(sys.modules[top], "__file__", None)
        for top in sorted(tops - set(sys.stdlib_module_names) - set(sys.builtin_module_names))
        if top != "__main__"
    }


at_start = set(sys.modules)
import livetally

by_root = sorted(third_party(set(sys.modules) - at_start))

import httpx

import livetally.client as sdk

submodules = sorted(m.name for m in pkgutil.iter_modules(sdk.__path__))
for name in submodules:
    importlib.import_module(f"livetally.client.{name}")

posted = []


def ingest(request):
    posted.append(json.loads(request.content))
    return httpx.Response(202, json={"accepted": 1})


client = sdk.Client(
    "http://ingest.test", "k", gzip=False, transport=httpx.MockTransport(ingest)
)
client.join("carnival", "观众 1", ts=5)
client.close()
print(json.dumps({
    "prefix": sys.prefix,
    "path": sys.path,
    "by_root": by_root,
    "submodules": submodules,
    "modules": third_party(set(sys.modules)),
    "posted": posted,
}))
"""
"""Run by the bare venv: imports the SDK and every submodule, posts one join, reports."""

DISTRIBUTIONS = """
import json
from importlib.metadata import distributions

print(json.dumps({d.metadata["Name"]: d.requires or [] for d in distributions()}))
"""
"""Run by the bare venv without PYTHONPATH: each installed distribution's requirements."""


def httpx_requirement() -> str:
    """httpx with the version range pyproject.toml asks for."""
    with (REPO / "pyproject.toml").open("rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    (spec,) = [d for d in dependencies if Requirement(d).name == "httpx"]
    return spec


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(root: str, requires: dict[str, list[str]]) -> set[str]:
    """``root`` and every distribution it needs, extras left out."""
    requires = {canonical(name): reqs for name, reqs in requires.items()}
    needed, todo = set(), [canonical(root)]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        for line in requires.get(name, []):
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(canonical(req.name))
    return needed


def within(file: str | None, venv: Path) -> str | None:
    """Where a module's file lies: in the bare venv, in the repository, or neither."""
    if file is None:
        return None
    path = Path(file).resolve()
    if path.is_relative_to(venv.resolve()):
        return "venv"
    if path.is_relative_to(REPO) and not path.is_relative_to(Path(sys.prefix).resolve()):
        return "repository"
    return None


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float) -> str:
    done = subprocess.run(
        args, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, check=False
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


@pytest.mark.integration
def test_the_sdk_runs_in_a_venv_holding_only_httpx(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], env, tmp_path, 120)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run([*pip, "install", "--quiet", httpx_requirement()], env, tmp_path, 300)

    listed = json.loads(run([*pip, "list", "--format=json"], env, tmp_path, 60))
    installed = {canonical(d["name"]) for d in listed}
    requires = json.loads(run([python, "-c", DISTRIBUTIONS], env, tmp_path, 60))
    assert installed - VENV_TOOLS == closure("httpx", requires)

    seen = json.loads(
        run(
            [python, "-c", textwrap.dedent(PROBE)],
            {**env, "PYTHONPATH": str(REPO)},
            tmp_path,
            60,
        )
    )
    assert Path(seen["prefix"]).resolve() == venv.resolve()
    assert not [p for p in seen["path"] if p.startswith(sys.prefix)]  # not this venv's
    assert seen["by_root"] == ["livetally"]  # livetally/__init__.py pulls nothing else
    assert {"backfill", "batching", "poster", "results", "retries", "send"} <= set(
        seen["submodules"]
    )
    expected = {"type": "join", "stream": "carnival", "ts": 5, "session_id": "观众 1"}
    assert seen["posted"] == [{"events": [expected]}]
    where = {top: within(file, venv) for top, file in seen["modules"].items()}
    # contract is imported only on first use (backfill, send without --url), if at all
    from_repo = {top for top, place in where.items() if place == "repository"}
    assert "livetally" in from_repo and from_repo <= {"livetally", "contract"}
    assert {top: seen["modules"][top] for top, place in where.items() if place is None} == {}
