"""The registration commands' text tables: columns, order, states, and never a secret."""

from __future__ import annotations

import pytest

from contract.registry import Partner, Stream, Token, hash_secret
from livetally import tables

NOW_MS = 1_734_778_800_000  # 2024-12-21 11:00:00Z


def _partner(partner_id: str, name: str, key: str, **fields) -> Partner:
    return Partner(partner_id, name, key_hash=hash_secret(key), **fields)


def test_partner_table_shows_settings_never_keys():
    partners = [
        _partner("xiamen", "厦门网", "k1", mode="reports"),
        _partner("aikan", "爱看头条", "k2", name_en="Aikan Toutiao"),
    ]
    table = tables.format_partners(partners).splitlines()
    heads = ["id", "name", "name_en", "mode", "timeout", "rate", "streams", "revoked"]
    assert table[0].split() == heads
    assert table[1].startswith("aikan")  # sorted by id
    assert "reports" in table[2]
    for partner in partners:
        assert partner.key_hash not in "\n".join(table)

    # CJK names take two columns each: the mode column starts at the same screen column.
    def screen_col(line: str, word: str) -> int:
        return tables.screen_width(line[: line.index(word)])

    assert screen_col(table[1], "sessions") == screen_col(table[2], "reports")


def test_partner_rows_show_units_a_dash_for_no_english_name_and_revocation():
    table = tables.format_partners(
        [_partner("kandu", "看度", "k", session_timeout_s=45, rate=80, revoked=True)]
    )
    assert table.splitlines()[1].split() == [
        "kandu",
        "看度",
        "-",
        "sessions",
        "45s",
        "80/s",
        "any",
        "yes",
    ]
    limited = tables.format_partners([_partner("kandu", "看度", "k", streams=("a", "b"))])
    assert limited.splitlines()[1].split()[6] == "a,b"


def test_empty_tables_say_so():
    assert tables.format_partners([]) == "no partners registered"
    assert tables.format_streams([]) == "no streams registered"
    assert tables.format_tokens([], NOW_MS) == "no tokens created"


def test_stream_table_is_sorted_by_id():
    table = tables.format_streams(
        [Stream("encore", "返场", "UTC"), Stream("carnival", "嘉年华", "Asia/Shanghai")]
    )
    assert [line.split() for line in table.splitlines()] == [
        ["id", "title", "tz"],
        ["carnival", "嘉年华", "Asia/Shanghai"],
        ["encore", "返场", "UTC"],
    ]


def test_token_table_names_each_state_in_creation_order_and_never_the_hash():
    tokens = [
        Token("late", "admin", "ops", hash_secret("s1"), created_at=NOW_MS - 1_000),
        Token("gone", "viewer", "", hash_secret("s2"), created_at=NOW_MS - 3_000, revoked=True),
        Token(
            "brief",
            "viewer",
            "wall",
            hash_secret("s3"),
            created_at=NOW_MS - 2_000,
            expires_at=NOW_MS - 1,
        ),
    ]
    table = tables.format_tokens(tokens, NOW_MS)
    lines = table.splitlines()
    assert lines[0].split() == ["id", "role", "name", "state", "created", "expires"]
    assert [line.split()[0] for line in lines[1:]] == ["gone", "brief", "late"]
    assert " revoked " in lines[1] and " expired " in lines[2] and " active " in lines[3]
    assert lines[3].endswith("2024-12-21 10:59:59Z  -")
    assert "2024-12-21 10:59:59Z" in lines[2]  # its expiry, a millisecond before now
    for token in tokens:
        assert token.token_hash not in table


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "-"), (NOW_MS, "2024-12-21 11:00:00Z"), (NOW_MS + 999, "2024-12-21 11:00:00Z")],
)
def test_instants_are_utc_seconds_and_zero_is_never(ms, text):
    assert tables.instant_text(ms) == text


@pytest.mark.parametrize(
    ("text", "width"),
    [("", 0), ("abc", 3), ("看度", 4), ("a看b", 4), ("ｱ", 1), ("Ｆ", 2), ("한", 2)],
)
def test_screen_width_counts_wide_characters_twice(text, width):
    assert tables.screen_width(text) == width


def test_text_table_pads_columns_two_apart_and_trims_line_ends():
    assert tables.text_table(("a", "bb"), [("xxx", "y"), ("看", "")]) == ("a    bb\nxxx  y\n看")
