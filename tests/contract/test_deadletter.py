"""The dead-letter record: key and bytes as the worker has always written them, decoding."""

from __future__ import annotations

import pytest

from contract.deadletter import (
    DeadLetter,
    deadletter_key,
    decode_dead_letter,
    encode_dead_letter,
)


def test_key_and_value_bytes_are_those_already_on_the_topic():
    letter = DeadLetter(4, 1234, None, "bad_record", "not msgpack", "\x00garbage")
    assert deadletter_key(letter) == b"4/1234"
    assert encode_dead_letter(letter) == (
        b'{"partition":4,"offset":1234,"index":null,"code":"bad_record",'
        b'"detail":"not msgpack","value":"\\u0000garbage"}'
    )
    event = DeadLetter(4, 1235, 2, "bad_value", "ts", "{...}")
    assert encode_dead_letter(event) == (
        b'{"partition":4,"offset":1235,"index":2,"code":"bad_value","detail":"ts","value":"{...}"}'
    )
    assert decode_dead_letter(encode_dead_letter(letter)) == letter
    assert decode_dead_letter(encode_dead_letter(event)) == event


@pytest.mark.parametrize("value", [b"{", b"[1]", b'{"partition": 1}'])
def test_malformed_dead_letters_are_value_errors(value):
    with pytest.raises(ValueError):
        decode_dead_letter(value)
