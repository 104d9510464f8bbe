"""Request-level limits of the dashboard's server: body size, callback envelopes, errors.

Dash trusts the JSON a browser posts to ``/_dash-update-component``: an unknown output, a
missing member or a value of the wrong type ends in a 500, and Python's JSON decoder turns a
deeply nested body into a ``RecursionError``. Here every callback request is checked
against the callbacks the app registered before Dash sees it (400 problem otherwise);
values themselves are narrowed per callback in ``dashboard.inputs``. A request that still
fails is answered with a problem document carrying an error id that is logged with the
traceback.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

import dash
import flask
import orjson
from werkzeug.exceptions import HTTPException, InternalServerError

from dashboard.auth import problem

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_DEPTH",
    "check_callback_request",
    "install_guards",
    "nesting_depth",
]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 2 * 1024 * 1024
"""Largest request body the dashboard reads (callback requests, admin JSON)."""
MAX_DEPTH = 32
"""Deepest nesting of arrays and objects in a callback request."""
_STRING_PROPS = frozenset({"pathname", "search", "hash", "href"})
_COUNTER_PROPS = frozenset({"n_intervals", "n_clicks"})


def nesting_depth(value: object, limit: int) -> int:
    """How deeply arrays and objects nest in a decoded JSON value (stops past ``limit``)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _pair(item: object) -> tuple[str, str] | None:
    """The (id, property) of one ``{id, property, …}`` of a request; None if malformed."""
    if not isinstance(item, dict):
        return None
    component, prop = item.get("id"), item.get("property")
    if not isinstance(component, str) or not isinstance(prop, str):
        return None
    return component, prop


def _ids(items: object, path_prefix: str) -> list[tuple[str, str]] | None:
    """The (id, property) pairs of a request's ``inputs`` or ``state``; None if malformed."""
    if not isinstance(items, list):
        return None
    pairs: list[tuple[str, str]] = []
    for item in items:
        pair = _pair(item)
        if pair is None:
            return None
        prop = pair[1]
        value = item.get("value")
        if prop in _STRING_PROPS and value is not None and not isinstance(value, str):
            return None
        if prop == "pathname" and value is not None and not value.startswith(path_prefix):
            return None
        if (
            prop in _COUNTER_PROPS
            and value is not None
            and (isinstance(value, bool) or not isinstance(value, int))
        ):
            return None
        pairs.append(pair)
    return pairs


def _expected_outputs(output: str) -> object:
    """The (id, property) pairs Dash expects in ``outputs`` for a callback's ``output`` key:
    one pair for a single output, a list for several (``..a.b...c.d..``)."""

    def pair(spec: str) -> tuple[str, str]:
        component, _, prop = spec.rpartition(".")
        return component, prop.split("@", 1)[0]  # ``@hash`` marks allow_duplicate

    if output.startswith("..") and output.endswith(".."):
        return [pair(spec) for spec in output[2:-2].split("...")]
    return pair(output)


def _output_ids(outputs: object) -> object:
    """The (id, property) pairs of a request's ``outputs``; None where malformed."""
    if isinstance(outputs, list):
        return [_pair(item) for item in outputs]
    return _pair(outputs)


def check_callback_request(
    body: object, callbacks: Mapping[str, Any], path_prefix: str = "/"
) -> str | None:
    """Why a decoded callback request cannot be served, or None if it can.

    ``callbacks`` is the app's ``callback_map``: the request must name a server-side
    callback and carry exactly its inputs and states, in order. A page path must start with
    ``path_prefix`` (the app's ``requests_pathname_prefix``).
    """
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    output = body.get("output")
    if not isinstance(output, str):
        return "'output' must be a string"
    spec = callbacks.get(output)
    if spec is None or spec.get("callback") is None:
        return "no server-side callback has this output"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "'changedPropIds' must be a list of strings"
    if _output_ids(body.get("outputs")) != _expected_outputs(output):
        return "'outputs' do not match the callback's"
    for name in ("inputs", "state"):
        pairs = _ids(body.get(name, []), path_prefix)
        if pairs is None:
            return f"'{name}' must be a list of {{id, property, value}} of the right types"
        expected = [(d["id"], d["property"]) for d in spec.get(name, [])]
        if pairs != expected:
            return f"'{name}' do not match the callback's"
    return None


def install_guards(app: dash.Dash) -> None:
    """Limit bodies, check callback requests and answer failures with problem documents."""
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    update_path = f"{app.config.routes_pathname_prefix}_dash-update-component"
    path_prefix = str(app.config.requests_pathname_prefix)

    def check_update() -> flask.Response | None:
        request = flask.request
        if request.path != update_path or request.method != "POST":
            return None
        try:
            body = orjson.loads(request.get_data(cache=True))
        except orjson.JSONDecodeError:
            return problem(400, "Bad callback request", "the body is not valid JSON")
        if nesting_depth(body, MAX_DEPTH) > MAX_DEPTH:
            return problem(400, "Bad callback request", f"nested deeper than {MAX_DEPTH}")
        reason = check_callback_request(body, app.callback_map, path_prefix)
        if reason is not None:
            return problem(400, "Bad callback request", reason)
        return None

    def http_error(error: HTTPException) -> flask.Response | HTTPException:
        if isinstance(error, InternalServerError):
            return _internal_error(error)
        if error.code is None:
            return error
        response = problem(error.code, error.name, error.description or error.name)
        for name, value in error.get_headers():
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
        return response

    server.before_request(check_update)
    server.register_error_handler(HTTPException, http_error)


def _internal_error(error: InternalServerError) -> flask.Response:
    error_id = secrets.token_hex(6)
    original = error.original_exception or error
    logger.error(
        "error %s on %s %s",
        error_id,
        flask.request.method,
        flask.request.path,
        exc_info=(type(original), original, original.__traceback__),
    )
    response = problem(
        500, "Internal error", f"the dashboard failed on this request (error id {error_id})"
    )
    response.headers["X-Error-Id"] = error_id
    return response
