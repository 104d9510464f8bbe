"""The compose files read as Docker Compose merges them (no Docker engine where tests run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "docker-compose.yml"
SECURE = ROOT / "docker-compose.secure.yml"
SECRETS_ROOT = "/secrets"
"""Where the secrets service mounts its volumes (its command's DIR)."""


def _volumes_by_target(volumes: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for volume in volumes:
        out[volume.split(":")[1]] = volume
    return out


def _merge_service(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if key == "environment":
            merged[key] = {**base.get(key, {}), **value}
        elif key == "volumes":
            by_target = _volumes_by_target(base.get(key, []))
            by_target.update(_volumes_by_target(value))
            merged[key] = list(by_target.values())
        else:
            merged[key] = value
    return merged


def load(*files: Path) -> dict[str, Any]:
    """The files merged in order: services and volumes by name, a service's environment
    by variable and its volumes by mount point, anything else replaced."""
    doc: dict[str, Any] = {"services": {}, "volumes": {}}
    for path in files:
        part = yaml.safe_load(path.read_text(encoding="utf-8"))
        for name, service in part.get("services", {}).items():
            doc["services"][name] = _merge_service(doc["services"].get(name, {}), service)
        doc["volumes"].update(part.get("volumes") or {})
    return doc


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Mount point -> volume name."""
    return {v.split(":")[1]: v.split(":")[0] for v in service.get("volumes", [])}


def host_path(doc: dict[str, Any], service: str, path: str, out: Path) -> Path:
    """Where ``path`` inside ``service``'s container is in a directory ``out`` written by
    ``livetally kafka secrets`` (the secrets service's DIR)."""
    secrets = {volume: target for target, volume in mounts(doc["services"]["secrets"]).items()}
    for target, volume in mounts(doc["services"][service]).items():
        if path == target or path.startswith(target + "/"):
            directory = secrets[volume].removeprefix(SECRETS_ROOT + "/")
            return out / directory / path[len(target) :].lstrip("/")
    raise KeyError(f"{path} is on no secrets volume of {service}")


def environment(doc: dict[str, Any], service: str, out: Path) -> dict[str, str]:
    """``service``'s environment with its secret files' paths taken to ``out``."""
    env = {k: str(v) for k, v in doc["services"][service].get("environment", {}).items()}
    for name, value in env.items():
        if name.endswith("_FILE"):
            env[name] = str(host_path(doc, service, value, out))
    return env
