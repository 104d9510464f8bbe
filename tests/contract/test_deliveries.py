"""The alert-delivery record: its key, and a value that decodes to what was encoded."""

from __future__ import annotations

import orjson
import pytest

from contract.deliveries import (
    Delivery,
    decode_delivery,
    delivery_key,
    encode_delivery,
    split_delivery_key,
)

DELIVERED = Delivery("wecom", "drop/show/_total/1700000000", "delivered", 1_700_000_001_000, 2)


def test_the_key_is_the_channel_and_the_alert_id_which_may_hold_slashes():
    key = delivery_key("wecom", "drop/show/_total/1700000000")
    assert key == b"wecom/drop/show/_total/1700000000"
    assert split_delivery_key(key) == ("wecom", "drop/show/_total/1700000000")


@pytest.mark.parametrize("key", [b"", b"wecom", b"wecom/", b"slack/live/s/p/1"])
def test_a_key_without_a_known_channel_and_an_id_is_refused(key):
    with pytest.raises(ValueError, match="bad alert-deliveries key"):
        split_delivery_key(key)


def test_the_value_is_the_records_fields_and_decodes_to_it():
    failed = Delivery("feishu", "live/s/p/1", "failed", 5, 0, "HTTP 400, code 19021: sign")
    for delivery in (DELIVERED, failed):
        assert decode_delivery(encode_delivery(delivery)) == delivery
    assert orjson.loads(encode_delivery(DELIVERED)) == {
        "channel": "wecom",
        "alert_id": "drop/show/_total/1700000000",
        "outcome": "delivered",
        "at": 1_700_000_001_000,
        "attempts": 2,
        "detail": "",
    }


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"channel": "slack"}, "channel"),
        ({"outcome": "maybe"}, "outcome"),
        ({"alert_id": ""}, "alert_id"),
        ({"detail": 3}, "detail"),
        ({"at": "soon"}, "at must be an integer"),
        ({"attempts": True}, "attempts must be an integer"),
    ],
)
def test_a_malformed_value_is_refused_saying_what_is_wrong(change, complaint):
    doc = {**orjson.loads(encode_delivery(DELIVERED)), **change}
    with pytest.raises(ValueError, match=complaint):
        decode_delivery(orjson.dumps(doc))


@pytest.mark.parametrize("value", [b"{", b"[1]"])
def test_a_value_that_is_not_a_json_object_is_refused(value):
    with pytest.raises(ValueError, match="delivery is not"):
        decode_delivery(value)
