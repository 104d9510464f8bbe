"""The secured local Kafka's TLS material: a CA, and node certificates it signs."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import stat

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from livetally import kafka_tls


def _cert(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def _mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_ca_and_node_certificates_are_made_once_with_private_keys_0600(tmp_path):
    files = kafka_tls.ensure_tls(tmp_path / "tls")
    for private in (files.ca_key, files.broker_keystore, files.controller_keystore):
        assert _mode(private) == 0o600
    assert _mode(files.directory) == 0o700
    before = {p: p.read_bytes() for p in (files.ca_cert, files.broker_keystore)}
    again = kafka_tls.ensure_tls(tmp_path / "tls")
    assert {p: p.read_bytes() for p in (again.ca_cert, again.broker_keystore)} == before


def test_keystores_hold_an_unencrypted_pkcs8_key_then_the_chain_to_the_ca(tmp_path):
    files = kafka_tls.ensure_tls(tmp_path)
    text = files.broker_keystore.read_text()
    assert text.startswith("-----BEGIN PRIVATE KEY-----")
    assert text.count("-----BEGIN CERTIFICATE-----") == 2
    key = serialization.load_pem_private_key(text.encode(), password=None)
    leaf = _cert(files.broker_keystore)
    assert leaf.public_key().public_numbers() == key.public_key().public_numbers()
    leaf.verify_directly_issued_by(_cert(files.ca_cert))


def test_node_certificates_name_loopback_localhost_and_the_compose_service(tmp_path):
    files = kafka_tls.ensure_tls(tmp_path)
    for path, cn in (
        (files.broker_keystore, kafka_tls.BROKER_CN),
        (files.controller_keystore, kafka_tls.CONTROLLER_CN),
    ):
        cert = _cert(path)
        assert cert.subject.rfc4514_string() == f"CN={cn}"
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "kafka"}
        assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    usage = (
        _cert(files.controller_keystore)
        .extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        .value
    )
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage  # the mTLS identity of the nodes


def test_python_clients_accept_the_broker_certificate_for_127_0_0_1(tmp_path):
    files = kafka_tls.ensure_tls(tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(files.broker_keystore)
    client = ssl.create_default_context(cafile=str(files.ca_cert))
    a, b = ssl.MemoryBIO(), ssl.MemoryBIO()
    c, d = ssl.MemoryBIO(), ssl.MemoryBIO()
    s_obj = server.wrap_bio(a, b, server_side=True)
    c_obj = client.wrap_bio(c, d, server_hostname="127.0.0.1")
    for _ in range(10):  # pump the handshake between the two in-memory ends
        for obj in (c_obj, s_obj):
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
        a.write(d.read())
        c.write(b.read())
    assert c_obj.getpeercert()["subject"] == ((("commonName", kafka_tls.BROKER_CN),),)


def test_a_leaf_near_expiry_is_issued_again_by_the_same_ca(tmp_path):
    files = kafka_tls.ensure_tls(tmp_path)
    ca = files.ca_cert.read_bytes()
    old = _cert(files.broker_keystore)
    later = old.not_valid_after_utc - dt.timedelta(days=10)
    kafka_tls.ensure_tls(tmp_path, now=later)
    assert files.ca_cert.read_bytes() == ca
    new = _cert(files.broker_keystore)
    assert new.serial_number != old.serial_number
    assert new.not_valid_after_utc > old.not_valid_after_utc
    new.verify_directly_issued_by(_cert(files.ca_cert))


def test_a_lost_ca_key_means_a_new_ca_and_new_leaves(tmp_path):
    files = kafka_tls.ensure_tls(tmp_path)
    files.ca_key.unlink()
    kafka_tls.ensure_tls(tmp_path)
    _cert(files.broker_keystore).verify_directly_issued_by(_cert(files.ca_cert))
    _cert(files.controller_keystore).verify_directly_issued_by(_cert(files.ca_cert))
