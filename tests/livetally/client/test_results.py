"""Reading the API's answer and adding outcomes up."""

from __future__ import annotations

import pytest

from livetally.client import BatchResult, ClientError, RejectedEvent, parse_result


def test_parse_result_reads_accepted_and_rejections():
    doc = {
        "accepted": 2,
        "rejected": [{"index": 1, "code": "bad_value", "detail": "type must be ..."}],
    }
    assert parse_result(doc) == BatchResult(2, [RejectedEvent(1, "bad_value", "type must be ...")])
    assert parse_result({"accepted": 5}) == BatchResult(5, [])
    with pytest.raises(ClientError):
        parse_result(["not", "an", "object"])
    with pytest.raises(ClientError):
        parse_result({"accepted": "many"})


def test_batch_results_add_with_offset():
    total = BatchResult()
    total.add(BatchResult(1, [RejectedEvent(0, "x", "")]), offset=0)
    total.add(BatchResult(3, [RejectedEvent(2, "y", "")]), offset=500)
    assert total.accepted == 4
    assert [r.index for r in total.rejected] == [0, 502]
