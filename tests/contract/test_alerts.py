"""The alert record: key and bytes as the worker has always written them, decoding."""

from __future__ import annotations

import pytest

from contract.alerts import Alert, alert_key, decode_alert, encode_alert

DROP = Alert(
    "drop/carnival/douyin/1734778800",
    1734778800000,
    1734778805000,
    "carnival",
    "douyin",
    "drop",
    "warning",
    "抖音 同时在线下降 35%",
    "douyin concurrency dropped 35%",
    650.0,
)


def test_key_and_value_bytes_are_those_already_on_the_topic():
    assert alert_key(DROP) == b"drop/carnival/douyin/1734778800"
    assert encode_alert(DROP) == (
        b'{"id":"drop/carnival/douyin/1734778800","at":1734778800000,'
        b'"raised_at":1734778805000,"stream":"carnival","platform":"douyin","kind":"drop",'
        b'"level":"warning","message_zh":"\xe6\x8a\x96\xe9\x9f\xb3 \xe5\x90\x8c\xe6\x97\xb6'
        b'\xe5\x9c\xa8\xe7\xba\xbf\xe4\xb8\x8b\xe9\x99\x8d 35%",'
        b'"message_en":"douyin concurrency dropped 35%","value":650.0}'
    )
    total = Alert(
        "milestone/carnival/_total/1000000",
        1,
        2,
        "carnival",
        None,
        "milestone",
        "info",
        "z",
        "e",
        None,
    )
    assert encode_alert(total) == (
        b'{"id":"milestone/carnival/_total/1000000","at":1,"raised_at":2,"stream":"carnival",'
        b'"platform":null,"kind":"milestone","level":"info","message_zh":"z","message_en":"e",'
        b'"value":null}'
    )


def test_value_decodes_to_its_alert():
    assert decode_alert(encode_alert(DROP)) == DROP
    with pytest.raises(ValueError, match="not JSON"):
        decode_alert(b"{")
    with pytest.raises(ValueError, match="kind"):
        decode_alert(b'{"kind": "boom"}')
