"""What starting and stopping the local cluster report, and the old module's names."""

from __future__ import annotations

from pathlib import Path

from livetally import kafka_cluster, kafka_server


def test_a_started_cluster_says_where_it_answers(tmp_path: Path):
    started = kafka_cluster.Started(
        brokers=1, servers="127.0.0.1:9092", secured=False, home=tmp_path, version="4.1.0"
    )
    assert str(started) == (
        "Apache Kafka 4.1.0 is running: 1 broker(s) at 127.0.0.1:9092, PLAINTEXT "
        f"(logs in {tmp_path / 'logs'})."
    )
    again = kafka_cluster.Started(
        brokers=3,
        servers="a,b,c",
        secured=True,
        home=tmp_path,
        already_running=True,
        secured_by_home=True,
    )
    lines = str(again).splitlines()
    assert "is a secured one" in lines[0]
    assert lines[1] == "Kafka is already running (3 broker(s), a,b,c)."


def test_a_stop_says_what_it_stopped(tmp_path: Path):
    assert (
        str(kafka_cluster.Stopped((), (), tmp_path)) == "No local Kafka of livetally's is running."
    )
    text = str(kafka_cluster.Stopped((0, 1), (4242,), tmp_path))
    assert "[4242] did not stop in time" in text
    assert text.endswith(f"Stopped Kafka node(s) [0, 1] under {tmp_path}.")


def test_stop_with_nothing_running_prints_nothing(tmp_path: Path, capsys):
    from contract.settings import Settings

    stopped = kafka_server.stop(Settings(home=tmp_path))
    assert stopped.nodes == () and capsys.readouterr().out == ""


def test_the_facade_offers_what_the_cli_bench_and_tests_use():
    for name in (
        "start",
        "stop",
        "status",
        "ensure_running",
        "ensure_libs",
        "kafka_version",
        "libs_dir",
        "local_size",
        "new_cluster_id",
        "node_layout",
        "render_properties",
        "replication_lines",
        "parse_java_major",
        "admin_security",
        "is_secure",
    ):
        assert callable(getattr(kafka_server, name)), name
