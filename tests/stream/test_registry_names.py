"""Partner and stream names taken from registry records, as the alert texts need them."""

from __future__ import annotations

import logging

import orjson

from contract.registry import Partner, Stream, record_key, to_record
from stream.registry_names import RegistryNames


def put(names: RegistryNames, item: Partner | Stream) -> None:
    names.take(record_key(item).encode(), orjson.dumps(to_record(item)))


def test_partners_by_display_name_in_each_language_and_streams_by_title():
    names = RegistryNames()
    put(names, Partner("kunming", "昆明信息港", "Kunming Info Port"))
    put(names, Partner("douyin", "抖音"))
    put(names, Stream("carnival", "成都第八届社区邻里狂欢节", "Asia/Chongqing"))
    assert names.partner_names("kunming") == ("昆明信息港", "Kunming Info Port")
    assert names.partner_names("douyin") == ("抖音", "抖音")  # no English name: the Chinese
    assert names.stream_title("carnival") == "成都第八届社区邻里狂欢节"
    assert names.stream_tz("carnival") == "Asia/Chongqing"


def test_an_unknown_id_stands_for_itself_and_a_tombstone_forgets():
    names = RegistryNames()
    put(names, Partner("kunming", "昆明信息港"))
    put(names, Stream("carnival", "狂欢节"))
    names.take(b"partner/kunming", None)
    names.take(b"stream/carnival", None)
    assert names.partner("kunming", "zh") == "kunming"
    assert (names.stream_title("carnival"), names.stream_tz("carnival")) == (
        "carnival",
        "Asia/Shanghai",
    )


def test_a_newer_record_replaces_the_older():
    names = RegistryNames()
    put(names, Partner("kunming", "昆明"))
    put(names, Partner("kunming", "昆明信息港"))
    assert names.partner("kunming", "en") == "昆明信息港"


def test_tokens_and_other_records_are_not_kept_and_bad_ones_are_skipped(caplog):
    names = RegistryNames()
    names.take(b"token/t1", orjson.dumps({"kind": "token", "id": "t1", "role": "admin"}))
    names.take(b"segment/s/1", b"{}")
    with caplog.at_level(logging.WARNING, logger="stream.registry_names"):
        names.take(b"partner/x", b"{")
        names.take(b"partner/y", orjson.dumps({"kind": "partner", "id": "Not An Id"}))
    assert (names.partners, names.streams) == ({}, {})
    assert len(caplog.records) == 2
