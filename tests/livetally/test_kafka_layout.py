"""Where a local cluster lives: node ports, server.properties, paths under the home."""

from __future__ import annotations

import base64

import pytest

from contract.settings import Settings
from livetally import kafka_layout


def _parse(properties: str) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in properties.splitlines() if "=" in line]
    return {key: value for key, value in pairs if not key.startswith("#")}


@pytest.mark.parametrize(
    ("base", "brokers", "expected"),
    [
        (9092, 1, [(0, 9092, 9093)]),
        (29192, 3, [(0, 29192, 29193), (1, 29194, 29195), (2, 29196, 29197)]),
    ],
)
def test_node_i_listens_on_base_plus_2i_and_controller_on_the_next_port(base, brokers, expected):
    layout = kafka_layout.node_layout(base, brokers)
    assert [(n.node_id, n.client_port, n.controller_port) for n in layout] == expected


@pytest.mark.parametrize(("base", "brokers"), [(9092, 0), (65535, 1), (65532, 3), (0, 1)])
def test_node_layout_rejects_impossible_ports(base, brokers):
    with pytest.raises(ValueError, match="broker|port"):
        kafka_layout.node_layout(base, brokers)


def test_single_node_properties_use_replication_factor_one(tmp_path):
    nodes = kafka_layout.node_layout(9092, 1)
    props = _parse(kafka_layout.render_properties(nodes[0], nodes, tmp_path / "data"))
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "0"
    assert props["controller.quorum.voters"] == "0@127.0.0.1:9093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["default.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"


def test_three_node_properties_list_every_voter_and_replicate_three_ways(tmp_path):
    nodes = kafka_layout.node_layout(19092, 3)
    props = _parse(kafka_layout.render_properties(nodes[2], nodes, tmp_path))
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == (
        "0@127.0.0.1:19093,1@127.0.0.1:19095,2@127.0.0.1:19097"
    )
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19096"
    assert props["default.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["transaction.state.log.replication.factor"] == "3"
    assert props["unclean.leader.election.enable"] == "false"


def test_plaintext_properties_have_no_authorizer_and_create_topics_on_use(tmp_path):
    nodes = kafka_layout.node_layout(9092, 1)
    props = _parse(kafka_layout.render_properties(nodes[0], nodes, tmp_path))
    assert props["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert props["auto.create.topics.enable"] == "true"
    assert not [key for key in props if "ssl" in key or "sasl" in key or "authorizer" in key]


def _secure_text(tmp_path, node_index=0, brokers=1):
    from livetally.kafka_secure import NodeSecurity
    from livetally.kafka_tls import tls_files
    from livetally.kafka_users import User

    security = NodeSecurity(tls_files(tmp_path / "tls"), User("livetally-broker", "pw-b"))
    nodes = kafka_layout.node_layout(19092, brokers)
    return kafka_layout.render_properties(nodes[node_index], nodes, tmp_path / "d", security)


def _secure_props(tmp_path, node_index=0, brokers=1):
    return _parse(_secure_text(tmp_path, node_index, brokers))


def test_secure_properties_put_clients_and_brokers_on_sasl_ssl_with_scram(tmp_path):
    props = _secure_props(tmp_path, node_index=1, brokers=3)
    assert props["listeners"] == "SASL_SSL://127.0.0.1:19094,CONTROLLER://127.0.0.1:19095"
    assert props["advertised.listeners"] == "SASL_SSL://127.0.0.1:19094"
    assert props["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:SSL"
    assert props["inter.broker.listener.name"] == "SASL_SSL"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    jaas = props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    assert 'username="livetally-broker" password="pw-b";' in jaas
    assert props["controller.quorum.voters"] == (
        "0@127.0.0.1:19093,1@127.0.0.1:19095,2@127.0.0.1:19097"
    )


def test_secure_properties_use_pem_files_and_mutual_tls_on_the_controller_listener(tmp_path):
    props = _secure_props(tmp_path)
    tls = tmp_path / "tls"
    assert props["ssl.keystore.type"] == props["ssl.truststore.type"] == "PEM"
    assert props["ssl.keystore.location"] == str(tls / "broker.pem")
    assert props["ssl.truststore.location"] == str(tls / "ca.pem")
    assert props["listener.name.controller.ssl.keystore.location"] == str(tls / "controller.pem")
    assert props["listener.name.controller.ssl.client.auth"] == "required"
    assert "ssl.key.password" not in props
    assert "ssl.client.auth" not in props  # clients log in with SCRAM, not certificates


def test_secure_properties_deny_by_default_and_name_the_super_users(tmp_path):
    props = _secure_props(tmp_path)
    assert props["authorizer.class.name"] == (
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    )
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert set(props["super.users"].split(";")) == {
        "User:livetally-broker",
        "User:livetally-controller",
        "User:livetally-admin",
    }
    assert props["auto.create.topics.enable"] == "false"
    assert _secure_text(tmp_path).count("auto.create.topics.enable=") == 1


def test_new_cluster_ids_are_kraft_uuids():
    ids = {kafka_layout.new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cid in ids:
        assert len(cid) == 22 and not cid.startswith("-")
        padded = cid.replace("-", "+").replace("_", "/") + "=="

        assert len(base64.b64decode(padded)) == 16


@pytest.mark.parametrize(
    ("nodes", "rf", "min_isr"), [(1, "1", "1"), (2, "1", "1"), (3, "3", "2"), (5, "3", "2")]
)
def test_three_copies_and_two_in_sync_from_three_nodes_on(nodes, rf, min_isr):
    props = _parse("\n".join(kafka_layout.replication_lines(nodes)))
    assert props["default.replication.factor"] == rf
    assert props["offsets.topic.replication.factor"] == rf
    assert props["transaction.state.log.replication.factor"] == rf
    assert props["share.coordinator.state.topic.replication.factor"] == rf
    assert props["min.insync.replicas"] == min_isr
    assert props["transaction.state.log.min.isr"] == min_isr
    assert props["share.coordinator.state.topic.min.isr"] == min_isr


def test_every_file_of_a_node_is_under_the_home(tmp_path):
    settings = Settings(home=tmp_path)
    assert kafka_layout.kafka_dir(settings) == tmp_path / "kafka"
    assert kafka_layout.node_dir(settings, 2) == tmp_path / "kafka" / "node-2"
    assert kafka_layout.props_path(settings, 2) == tmp_path / "kafka/node-2/server.properties"
    assert kafka_layout.pid_path(settings, 1) == tmp_path / "run" / "kafka-1.pid"
    assert kafka_layout.log_path(settings, 1) == tmp_path / "logs" / "kafka-1.log"
    assert kafka_layout.size_path(settings) == tmp_path / "kafka" / "brokers"


@pytest.mark.parametrize(("text", "size"), [("3\n", 3), ("1", 1), ("three\n", None), ("", None)])
def test_the_recorded_size_is_the_number_in_the_size_file(tmp_path, text, size):
    settings = Settings(home=tmp_path)
    path = kafka_layout.size_path(settings)
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="ascii")
    assert kafka_layout.recorded_size(settings) == size


def test_a_home_never_formatted_has_no_recorded_size(tmp_path):
    assert kafka_layout.recorded_size(Settings(home=tmp_path / "fresh")) is None


def test_local_servers_are_the_client_ports_in_node_order():
    nodes = kafka_layout.node_layout(19092, 3)
    assert kafka_layout.local_servers(nodes) == [
        "127.0.0.1:19092",
        "127.0.0.1:19094",
        "127.0.0.1:19096",
    ]
    assert kafka_layout.servers_text(nodes) == "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"
