"""The verdicts every channel shares: by HTTP status, and by a bot's answer code."""

from __future__ import annotations

import orjson
import pytest

from stream.channels.base import judge_code, judge_status


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (301, "give_up"),
        (400, "give_up"),
        (401, "give_up"),
        (404, "give_up"),
        (408, "retry"),
        (425, "retry"),
        (429, "retry"),
        (500, "retry"),
        (503, "retry"),
    ],
)
def test_the_status_alone_decides_for_a_plain_webhook(status, verdict):
    assert judge_status(status).verdict == verdict


def code(doc: dict) -> bytes:
    return orjson.dumps(doc)


@pytest.mark.parametrize(
    ("status", "body", "verdict", "detail"),
    [
        (200, code({"errcode": 0, "errmsg": "ok"}), "delivered", ""),
        (200, code({"errcode": 7, "errmsg": "slow down"}), "retry", "HTTP 200, code 7: slow down"),
        (200, code({"errcode": 93000, "errmsg": "invalid webhook url"}), "give_up", "code 93000"),
        (400, code({"errcode": 0}), "delivered", ""),  # the code decides when there is one
        (200, b"", "retry", "without a errcode"),  # not a bot's answer
        (200, b"<html>", "retry", "without a errcode"),
        (502, b"<html>bad gateway", "retry", "HTTP 502"),
        (404, b"not found", "give_up", "HTTP 404"),
        (200, code({"errcode": True}), "retry", "without a errcode"),
        # A server error is worth a retry whatever code it carries: only success ends it.
        (503, code({"errcode": 93000, "errmsg": "busy"}), "retry", "HTTP 503, code 93000: busy"),
        (502, code({"errcode": 88}), "retry", "HTTP 502, code 88"),
        (429, code({"errcode": 93000}), "retry", "HTTP 429, code 93000"),
        (408, code({"errcode": 93000}), "retry", "HTTP 408"),
        (425, code({"errcode": 93000}), "retry", "HTTP 425"),
        (503, code({"errcode": 0}), "delivered", ""),
    ],
)
def test_a_bots_code_decides_and_without_one_the_status(status, body, verdict, detail):
    answer = judge_code(status, body, ("errcode",), {7})
    assert answer.verdict == verdict
    assert detail in answer.detail
