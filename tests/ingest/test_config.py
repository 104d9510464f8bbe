"""The ingest settings, read from a mapping (never from the process environment)."""

from __future__ import annotations

import pytest

from ingest.config import IngestConfig


def test_defaults_fit_local_use():
    config = IngestConfig.from_env({})
    assert config.partner_requests_per_s == 500
    assert config.max_errors_per_min == 30
    assert config.limit_concurrency == 1000
    assert config.keep_alive_s == 5
    assert (config.header_timeout_s, config.body_timeout_s) == (10.0, 30.0)
    assert (config.coalesce_linger_ms, config.coalesce_max_events) == (5.0, 5000)


def test_the_coalescing_settings_are_read_from_their_variables():
    config = IngestConfig.from_env(
        {
            "LIVETALLY_INGEST_COALESCE_LINGER_MS": "2.5",
            "LIVETALLY_INGEST_COALESCE_MAX_EVENTS": "800",
        }
    )
    assert (config.coalesce_linger_ms, config.coalesce_max_events) == (2.5, 800)
    assert (
        IngestConfig.from_env({"LIVETALLY_INGEST_COALESCE_LINGER_MS": "0"}).coalesce_linger_ms == 0
    )


def test_the_protection_settings_are_read_from_their_variables():
    config = IngestConfig.from_env(
        {
            "LIVETALLY_INGEST_PARTNER_REQUESTS_PER_S": "50.5",
            "LIVETALLY_INGEST_MAX_ERRORS_PER_MIN": "7",
            "LIVETALLY_INGEST_LIMIT_CONCURRENCY": "64",
            "LIVETALLY_INGEST_KEEP_ALIVE_S": "2",
            "LIVETALLY_INGEST_HEADER_TIMEOUT_S": "1.5",
            "LIVETALLY_INGEST_BODY_TIMEOUT_S": "4",
        }
    )
    assert config.partner_requests_per_s == 50.5
    assert config.max_errors_per_min == 7
    assert config.limit_concurrency == 64
    assert config.keep_alive_s == 2
    assert (config.header_timeout_s, config.body_timeout_s) == (1.5, 4.0)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LIVETALLY_INGEST_BODY_TIMEOUT_S", "soon", "LIVETALLY_INGEST_BODY_TIMEOUT_S"),
        ("LIVETALLY_INGEST_BODY_TIMEOUT_S", "0", "body_timeout_s"),
        ("LIVETALLY_INGEST_HEADER_TIMEOUT_S", "inf", "header_timeout_s"),
        ("LIVETALLY_INGEST_PARTNER_REQUESTS_PER_S", "-1", "partner_requests_per_s"),
        ("LIVETALLY_INGEST_MAX_ERRORS_PER_MIN", "-1", "max_errors_per_min"),
        ("LIVETALLY_INGEST_LIMIT_CONCURRENCY", "many", "LIVETALLY_INGEST_LIMIT_CONCURRENCY"),
        ("LIVETALLY_INGEST_COALESCE_LINGER_MS", "-1", "coalesce_linger_ms"),
        ("LIVETALLY_INGEST_COALESCE_LINGER_MS", "nan", "coalesce_linger_ms"),
        ("LIVETALLY_INGEST_COALESCE_LINGER_MS", "5000", "coalesce_linger_ms"),
        ("LIVETALLY_INGEST_COALESCE_MAX_EVENTS", "0", "coalesce_max_events"),
    ],
)
def test_bad_values_name_what_is_wrong(name, value, message):
    with pytest.raises(ValueError, match=message):
        IngestConfig.from_env({name: value})
