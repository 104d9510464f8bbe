"""A local cluster's storage: its cluster id, the JVM options, and each node's properties."""

from __future__ import annotations

import stat

import pytest

from contract.settings import Settings
from livetally import kafka_layout, kafka_storage
from livetally.exceptions import LivetallyError
from livetally.kafka_secure import NodeSecurity
from livetally.kafka_tls import tls_files
from livetally.kafka_users import User


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path)


def _format(settings: Settings, node_id: int) -> None:
    meta = kafka_layout.node_dir(settings, node_id) / "data" / "meta.properties"
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text(f"node.id={node_id}\n")


def test_the_cluster_id_is_made_once_and_kept(settings):
    first = kafka_storage.cluster_id(settings)
    assert len(first) == 22 and not first.startswith("-")
    assert kafka_storage.cluster_id(settings) == first
    path = kafka_layout.kafka_dir(settings) / "cluster.id"
    assert path.read_text(encoding="ascii") == first + "\n"


def test_a_recorded_cluster_id_is_reused_and_an_empty_one_replaced(settings):
    path = kafka_layout.kafka_dir(settings) / "cluster.id"
    path.parent.mkdir(parents=True)
    path.write_text("  MkU3OEVBNTcwNTJENDM2Qk \n", encoding="ascii")
    assert kafka_storage.cluster_id(settings) == "MkU3OEVBNTcwNTJENDM2Qk"
    path.write_text("\n", encoding="ascii")
    made = kafka_storage.cluster_id(settings)
    assert made and path.read_text(encoding="ascii").strip() == made


@pytest.mark.parametrize(("brokers", "heap"), [(1, "-Xmx512m"), (3, "-Xmx384m")])
def test_a_node_of_a_bigger_cluster_gets_less_heap(settings, brokers, heap):
    options = kafka_storage.jvm_options(settings, 1, brokers)
    assert options[0] == heap
    assert "-XX:+UseG1GC" in options
    assert f"-Dkafka.logs.dir={kafka_layout.node_dir(settings, 1)}" in options
    log4j = next(o for o in options if o.startswith("-Dlog4j2.configurationFile="))
    assert log4j.endswith("log4j2.properties")


def test_formatted_means_any_node_has_its_meta_properties(settings):
    assert not kafka_storage.formatted(settings)
    kafka_layout.node_dir(settings, 0).mkdir(parents=True)
    assert not kafka_storage.formatted(settings)
    _format(settings, 2)
    assert kafka_storage.formatted(settings)


def test_formatting_skips_nodes_already_formatted(settings, tmp_path):
    nodes = kafka_layout.node_layout(19092, 3)
    for node in nodes:
        _format(settings, node.node_id)
    # No JVM is started: a missing java would raise FileNotFoundError.
    kafka_storage.format_storage(settings, str(tmp_path / "no-java"), tmp_path, nodes, False)


def test_properties_are_written_for_each_node_with_the_size(settings):
    nodes = kafka_layout.node_layout(19092, 3)
    kafka_storage.write_properties(settings, nodes, None)
    for node in nodes:
        data = kafka_layout.node_dir(settings, node.node_id) / "data"
        text = kafka_layout.props_path(settings, node.node_id).read_text(encoding="utf-8")
        assert text == kafka_layout.render_properties(node, nodes, data)
        assert data.is_dir()
    assert kafka_layout.recorded_size(settings) == 3


def test_data_of_another_size_is_refused_and_left_alone(settings):
    kafka_storage.write_properties(settings, kafka_layout.node_layout(19092, 1), None)
    before = kafka_layout.props_path(settings, 0).read_text(encoding="utf-8")
    with pytest.raises(LivetallyError, match=r"1-broker cluster.*--brokers 1"):
        kafka_storage.write_properties(settings, kafka_layout.node_layout(29092, 3), None)
    assert kafka_layout.props_path(settings, 0).read_text(encoding="utf-8") == before
    assert not kafka_layout.props_path(settings, 1).exists()
    assert kafka_layout.recorded_size(settings) == 1


def test_secured_properties_hold_a_password_and_are_private(settings, tmp_path):
    security = NodeSecurity(tls_files(tmp_path / "tls"), User("livetally-broker", "pw-b"))
    nodes = kafka_layout.node_layout(19092, 1)
    kafka_storage.write_properties(settings, nodes, security)
    path = kafka_layout.props_path(settings, 0)
    assert 'password="pw-b"' in path.read_text(encoding="utf-8")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
