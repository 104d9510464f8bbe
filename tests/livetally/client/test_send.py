"""``livetally send``: NDJSON lines numbered, posted in batches, rejections reported by line."""

from __future__ import annotations

import io

import httpx
import pytest

from livetally.client import LineError, iter_ndjson, send_file
from livetally.exceptions import LivetallyError
from tests.livetally.client.fakes import FakeIngest


def test_iter_ndjson_numbers_lines_and_skips_blanks():
    items = list(iter_ndjson(['{"a": 1}\n', "\n", "{oops\n", "  \n", "[1]\n"]))
    assert items[0] == (1, {"a": 1})
    assert isinstance(items[1], LineError) and items[1].line == 3
    assert items[2] == (5, [1])


def test_send_file_reports_rejections_by_line_number(tmp_path):
    lines = ['{"type": "join", "n": 0}', "", "not json", '{"type": "join", "n": 1}']
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    answer = {"accepted": 1, "rejected": [{"index": 1, "code": "unknown_field", "detail": "n"}]}
    fake = FakeIngest((207, answer, {}))
    out = io.StringIO()
    code = send_file(
        str(path), key="k", url="http://ingest.test", out=out, transport=httpx.MockTransport(fake)
    )
    assert code == 1
    assert [len(b) for b in fake.bodies()] == [2]
    report = out.getvalue().splitlines()
    assert report[0] == "accepted 1, rejected 2"
    assert report[1].startswith("line 3: invalid_json: not valid JSON")
    assert report[2] == "line 4: unknown_field: n"


def test_send_file_posts_in_batches_of_500_and_exits_0_when_all_accepted(tmp_path):
    path = tmp_path / "many.ndjson"
    path.write_text("".join(f'{{"i": {i}}}\n' for i in range(1201)), encoding="utf-8")
    fake = FakeIngest()
    out = io.StringIO()
    code = send_file(
        str(path), key="k", url="http://ingest.test", out=out, transport=httpx.MockTransport(fake)
    )
    assert code == 0
    assert [len(b) for b in fake.bodies()] == [500, 500, 201]
    assert out.getvalue() == "accepted 1201, rejected 0\n"


def test_send_file_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(LivetallyError, match="cannot read"):
        send_file(str(tmp_path / "nope.ndjson"), key="k", url="http://ingest.test")
