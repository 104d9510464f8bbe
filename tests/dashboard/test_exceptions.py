"""The dashboard's client-facing errors: status, title and detail of each, and the problem
document and headers the API answers with when one is raised."""

from __future__ import annotations

import flask
import pytest

import dashboard.exceptions as exceptions_module
from dashboard.api import register_api
from dashboard.data import StaticData
from dashboard.exceptions import (
    BadParameter,
    Conflict,
    DashboardError,
    FontMissing,
    Forbidden,
    NotAuthorized,
    RegistryUnavailable,
    TooManyRequests,
    UnknownItem,
    UnknownStream,
)
from tests.dashboard.builders import build

ERRORS = [
    (UnknownStream("nope"), 404, "Unknown stream", "no stream 'nope' is registered"),
    (
        BadParameter("from", "is not a time"),
        400,
        "Bad parameter",
        "parameter 'from' is not a time",
    ),
    (RegistryUnavailable("kafka refused"), 503, "Registry not writable", "kafka refused"),
    (FontMissing("no CJK font"), 503, "Font missing", "no CJK font"),
    (NotAuthorized("no token"), 401, "Not authorized", "no token"),
    (Forbidden("needs admin"), 403, "Forbidden", "needs admin"),
    (
        UnknownItem("partner", "p9"),
        404,
        "Not found",
        "no partner with id 'p9' is registered",
    ),
    (Conflict("p9 is already registered"), 409, "Conflict", "p9 is already registered"),
    (TooManyRequests("2 exports running", 5), 429, "Too many requests", "2 exports running"),
    (DashboardError("odd"), 400, "Bad request", "odd"),
]


@pytest.mark.parametrize(("error", "status", "title", "detail"), ERRORS)
def test_each_error_has_its_status_title_and_detail(error, status, title, detail):
    assert isinstance(error, DashboardError)
    assert (error.status, error.title, error.detail) == (status, title, detail)
    assert str(error) == detail


def test_every_exported_error_is_a_dashboard_error_with_its_own_status_and_title():
    exported = {name: getattr(exceptions_module, name) for name in exceptions_module.__all__}
    assert set(exported) == {type(error).__name__ for error, *_ in ERRORS}
    assert all(issubclass(cls, DashboardError) for cls in exported.values())
    assert all(type(e).__dict__.get("status") == s for e, s, *_ in ERRORS)


def test_errors_keep_what_they_are_about():
    assert UnknownStream("a b").stream == "a b"
    assert BadParameter("to", "is late").name == "to"
    assert TooManyRequests("busy", 7).retry_after_s == 7


def test_a_quoted_detail_shows_odd_ids_unambiguously():
    assert UnknownStream("x'); drop").detail == 'no stream "x\'); drop" is registered'
    assert UnknownItem("token", "").detail == "no token with id '' is registered"


@pytest.fixture
def client():
    """A bare Flask server with the API's error handling and a route raising ``?error=``."""
    server = flask.Flask(__name__)
    register_api(server, StaticData(build([])))
    raised = {type(error).__name__: error for error, *_ in ERRORS}

    def boom() -> flask.Response:
        raise raised[flask.request.args["error"]]

    server.add_url_rule("/boom", "boom", boom)
    return server.test_client()


@pytest.mark.parametrize(("error", "status", "title", "detail"), ERRORS)
def test_the_api_answers_a_raised_error_with_its_problem_document(
    client, error, status, title, detail
):
    response = client.get(f"/boom?error={type(error).__name__}")
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.json == {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    assert ("Retry-After" in response.headers) is isinstance(error, TooManyRequests)
    # Every 401 names the scheme to answer with, however it was raised.
    assert ("WWW-Authenticate" in response.headers) is (status == 401)


def test_too_many_requests_says_when_to_retry(client):
    response = client.get("/boom?error=TooManyRequests")
    assert response.headers["Retry-After"] == "5"


def test_an_unknown_stream_on_a_real_route_is_the_same_problem(client):
    response = client.get("/api/v1/streams/nope/report")
    assert response.status_code == 404
    assert response.json["title"] == "Unknown stream"
    assert response.json["detail"] == "no stream 'nope' is registered"
