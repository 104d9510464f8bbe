"""Where the ingest API listens, read from a mapping passed in."""

from __future__ import annotations

import pytest

from contract.ingest_address import IngestAddress
from contract.settings import SettingsError


@pytest.mark.parametrize(
    ("environ", "host", "port"),
    [
        ({}, "127.0.0.1", 8080),
        ({"LIVETALLY_INGEST_HOST": "0.0.0.0"}, "0.0.0.0", 8080),  # noqa: S104 - only a value
        ({"LIVETALLY_INGEST_PORT": "9090"}, "127.0.0.1", 9090),
        ({"LIVETALLY_INGEST_PORT": ""}, "127.0.0.1", 8080),
        ({"LIVETALLY_INGEST_HOST": "ingest", "LIVETALLY_INGEST_PORT": "80"}, "ingest", 80),
        ({"LIVETALLY_PORT": "1", "LIVETALLY_HOST": "x"}, "127.0.0.1", 8080),
    ],
)
def test_the_address_is_read_from_its_two_variables(environ, host, port):
    address = IngestAddress.from_env(environ)
    assert (address.host, address.port) == (host, port)


def test_a_port_that_is_not_a_number_is_named():
    with pytest.raises(SettingsError) as refused:
        IngestAddress.from_env({"LIVETALLY_INGEST_PORT": "http"})
    assert str(refused.value) == "LIVETALLY_INGEST_PORT must be an integer, got 'http'"


@pytest.mark.parametrize(
    ("address", "url"),
    [
        (IngestAddress(), "http://127.0.0.1:8080"),
        (IngestAddress("ingest.example", 443), "http://ingest.example:443"),
        (IngestAddress.from_env({"LIVETALLY_INGEST_PORT": "18080"}), "http://127.0.0.1:18080"),
    ],
)
def test_partners_post_to_the_base_url(address, url):
    assert address.base_url == url


def test_the_address_is_frozen():
    with pytest.raises(AttributeError):
        IngestAddress().port = 1  # type: ignore[misc]
