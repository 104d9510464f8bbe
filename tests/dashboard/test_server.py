"""The dashboard's gunicorn settings: one process, bounded threads, no query in its log.

``run`` and the gunicorn application around it are wiring; the real server is started and
stopped in test_integration.py.
"""

from __future__ import annotations

from dashboard.config import DashboardConfig
from dashboard.server import ACCESS_LOG_FORMAT, GRACEFUL_TIMEOUT_S, server_options


def test_one_gunicorn_process_with_bounded_threads_and_no_query_in_the_access_log():
    options = server_options(DashboardConfig(threads=8))
    assert options["workers"] == 1 and options["worker_class"] == "gthread"
    assert options["threads"] == 8 and options["graceful_timeout"] < 10
    assert "%(U)s" in options["access_log_format"] and "%(r)s" not in options["access_log_format"]
    assert options["forwarded_allow_ips"] == ""


def test_the_server_binds_and_bounds_what_the_config_says():
    config = DashboardConfig(
        host="0.0.0.0", port=8443, threads=4, max_connections=64, request_timeout_s=30
    )
    options = server_options(config)
    assert options["bind"] == ["0.0.0.0:8443"]
    assert (options["threads"], options["worker_connections"], options["timeout"]) == (4, 64, 30)
    assert options["preload_app"] is False  # the app (and its Kafka readers) start in the worker


def test_requests_in_flight_get_less_than_the_stop_deadline_to_finish():
    options = server_options(DashboardConfig())
    assert options["graceful_timeout"] == GRACEFUL_TIMEOUT_S < 10
    assert options["access_log_format"] == ACCESS_LOG_FORMAT
    assert "%(q)s" not in ACCESS_LOG_FORMAT and "%(r)s" not in ACCESS_LOG_FORMAT
    assert options["limit_request_line"] <= 8190 and options["limit_request_fields"] <= 100
