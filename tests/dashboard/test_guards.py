"""Callback envelopes, body size and nesting are checked before Dash sees a request."""

from __future__ import annotations

import json

import pytest

from dashboard.guards import MAX_BODY_BYTES, MAX_DEPTH, check_callback_request, nesting_depth
from tests.dashboard.builders import VIEWER_TOKEN

BEARER = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
CALLBACKS = {
    "app-stream.data": {
        "callback": object(),
        "inputs": [{"id": "app-stream-select", "property": "value"}],
        "state": [],
    },
    "_pages_dummy.children": {"inputs": [{"id": "_pages_store", "property": "data"}]},
    "app-shell.className": {
        "callback": object(),
        "inputs": [{"id": "_pages_location", "property": "pathname"}],
        "state": [],
    },
}


def request(output="app-stream.data", inputs=None, **extra):
    body = {
        "output": output,
        "outputs": {"id": str(output).split(".")[0], "property": str(output).split(".")[-1]},
        "inputs": inputs
        if inputs is not None
        else [{"id": "app-stream-select", "property": "value", "value": "carnival"}],
        "changedPropIds": ["app-stream-select.value"],
    }
    body.update(extra)
    return body


def test_nesting_depth():
    assert nesting_depth(1, 10) == 0
    assert nesting_depth({"a": [1, {"b": []}]}, 10) == 4
    assert nesting_depth([[[[[]]]]], 2) == 3  # stops counting past the limit


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], "JSON object"),
        (request(output=5), "'output'"),
        (request(output="nope.data"), "no server-side callback"),
        (request(output="_pages_dummy.children"), "no server-side callback"),
        (request(changedPropIds="x"), "'changedPropIds'"),
        (request(outputs="x"), "'outputs'"),
        (request(outputs={}), "'outputs'"),
        (request(outputs=[]), "'outputs'"),
        (request(outputs=[{}]), "'outputs'"),
        (request(outputs={"id": 5, "property": "data"}), "'outputs'"),
        (request(outputs={"id": "app-stream", "property": "other"}), "'outputs'"),
        (request(outputs=[{"id": "app-stream", "property": "data"}]), "'outputs'"),
        (request(inputs="x"), "'inputs'"),
        (request(inputs=[{"id": 1, "property": "value"}]), "'inputs'"),
        (request(inputs=[{"id": "other", "property": "value", "value": 1}]), "match"),
        (request(inputs=[]), "match"),
        (request(state=[{"id": "x", "property": "data"}]), "match"),
        (
            request(
                output="app-shell.className",
                inputs=[{"id": "_pages_location", "property": "pathname", "value": 5}],
            ),
            "'inputs'",
        ),
        (
            request(
                output="app-shell.className",
                inputs=[{"id": "_pages_location", "property": "pathname", "value": "x/y"}],
            ),
            "'inputs'",
        ),
    ],
)
def test_malformed_callback_requests_are_refused_with_a_reason(body, reason):
    found = check_callback_request(body, CALLBACKS, "/")
    assert found is not None and reason in found


def test_a_well_formed_callback_request_passes():
    assert check_callback_request(request(), CALLBACKS, "/") is None
    page = request(
        output="app-shell.className",
        inputs=[{"id": "_pages_location", "property": "pathname", "value": "/screen"}],
    )
    assert check_callback_request(page, CALLBACKS, "/") is None


@pytest.fixture
def client(app_and_data):
    app, _ = app_and_data
    return app.server.test_client()


def post(client, data, **headers):
    return client.post(
        "/_dash-update-component",
        data=data,
        headers={**BEARER, "Content-Type": "application/json", **headers},
    )


def test_the_app_answers_a_good_callback_request(client):
    response = post(client, json.dumps(request()))
    assert response.status_code == 200
    assert response.json["response"]["app-stream"]["data"] == "carnival"


@pytest.mark.parametrize(
    "data",
    [
        "[" * 100_000 + "]" * 100_000,  # Python's JSON decoder: RecursionError
        json.dumps(request(state=[{"id": "x", "property": "y", "value": [[[[[[]]]]]]}])),
        "not json",
        json.dumps(request(output="nope.data")),
        json.dumps({"output": "app-stream.data"}),
        json.dumps(request(inputs=[{"id": "app-stream-select", "property": "value", "value": 5}]))[
            :-1
        ],
    ],
)
def test_the_app_answers_bad_callback_requests_with_a_400_problem(client, data):
    response = post(client, data)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"


def test_deep_nesting_is_refused_beyond_the_limit(client):
    value: object = 1
    for _ in range(MAX_DEPTH):
        value = [value]
    body = request(inputs=[{"id": "app-stream-select", "property": "value", "value": value}])
    assert post(client, json.dumps(body)).status_code == 400


def test_a_body_over_the_limit_is_a_413_problem(client):
    response = post(client, "x" * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


def test_a_failing_callback_is_a_500_problem_with_an_error_id(app_and_data, caplog):
    app, data = app_and_data

    def broken():
        raise RuntimeError("boom")

    data.snapshot = broken  # the data source fails: a fault, not bad input
    response = post(app.server.test_client(), json.dumps(request()))
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    error_id = response.headers["X-Error-Id"]
    assert error_id in response.json["detail"]
    assert any(error_id in r.getMessage() and r.exc_info for r in caplog.records)
