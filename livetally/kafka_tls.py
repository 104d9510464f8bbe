"""TLS material of a secured local Kafka: a private CA and the certificates it signs.

Generated once per ``$LIVETALLY_HOME`` under ``kafka/tls/`` with the ``cryptography``
library, as PEM files Kafka reads directly (``ssl.keystore.type=PEM``): a keystore file
holds an unencrypted PKCS#8 key followed by its certificate chain. Every private key is
mode 0600. A leaf certificate close to expiry is issued again by the same CA on start,
so clients that trust ``ca.pem`` keep working.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "BROKER_CN",
    "CONTROLLER_CN",
    "SAN_DNS",
    "SAN_IPS",
    "TlsFiles",
    "ensure_tls",
    "tls_files",
    "write_private",
]

BROKER_CN = "livetally-broker"
"""Subject CN of the certificate the client (SASL_SSL) listener presents."""
CONTROLLER_CN = "livetally-controller"
"""Subject CN of the nodes' mutual-TLS identity on the controller listener; mapped to the
principal ``User:livetally-controller`` by ``ssl.principal.mapping.rules``."""
SAN_DNS = ("localhost", "kafka")
"""DNS names in every node certificate (``kafka``: the docker compose service)."""
SAN_IPS = ("127.0.0.1",)
"""IP addresses in every node certificate (the local nodes listen on loopback)."""

_CA_DAYS = 3650
_LEAF_DAYS = 825
_RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    """Where the TLS material of one home is."""

    directory: Path
    ca_cert: Path
    """``ca.pem``: the CA certificate, the truststore of nodes and clients alike."""
    ca_key: Path
    """``ca-key.pem`` (0600): signs the node certificates."""
    broker_keystore: Path
    """``broker.pem`` (0600): key and chain of the client listener."""
    controller_keystore: Path
    """``controller.pem`` (0600): key and chain of the controller listener, both ends."""


def tls_files(directory: Path) -> TlsFiles:
    """The file names under ``directory`` (nothing is created)."""
    return TlsFiles(
        directory=directory,
        ca_cert=directory / "ca.pem",
        ca_key=directory / "ca-key.pem",
        broker_keystore=directory / "broker.pem",
        controller_keystore=directory / "controller.pem",
    )


def ensure_tls(directory: Path, *, now: dt.datetime | None = None) -> TlsFiles:
    """Create the CA and the node certificates under ``directory`` unless they exist."""
    files = tls_files(directory)
    moment = now or dt.datetime.now(dt.UTC)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    if not (files.ca_cert.is_file() and files.ca_key.is_file()):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _ca_certificate(ca_key, moment)
        write_private(files.ca_key, _key_pem(ca_key))
        files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        for leaf in (files.broker_keystore, files.controller_keystore):
            leaf.unlink(missing_ok=True)  # signed by a CA that is gone
    ca_key_loaded = serialization.load_pem_private_key(files.ca_key.read_bytes(), None)
    if not isinstance(ca_key_loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{files.ca_key} does not hold an EC private key")
    ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    for path, cn, client_auth in (
        (files.broker_keystore, BROKER_CN, False),
        (files.controller_keystore, CONTROLLER_CN, True),
    ):
        if _needs_issuing(path, moment):
            key = ec.generate_private_key(ec.SECP256R1())
            cert = _leaf_certificate(key, cn, ca_key_loaded, ca_cert, moment, client_auth)
            chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (cert, ca_cert))
            write_private(path, _key_pem(key) + chain)
    return files


def _needs_issuing(keystore: Path, moment: dt.datetime) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(keystore.read_bytes())
    except (OSError, ValueError):
        return True
    return cert.not_valid_after_utc - _RENEW_BEFORE < moment


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # Unencrypted PKCS#8 ("BEGIN PRIVATE KEY"): Kafka's PEM keystore then needs no
    # ssl.key.password; the file's mode 0600 protects it instead.
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a file created with mode 0600 (never readable by others)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    tmp.replace(path)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca_certificate(key: ec.EllipticCurvePrivateKey, moment: dt.datetime) -> x509.Certificate:
    name = _name("livetally local Kafka CA")
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - dt.timedelta(minutes=5))
        .not_valid_after(moment + dt.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )


def _leaf_certificate(
    key: ec.EllipticCurvePrivateKey,
    cn: str,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    moment: dt.datetime,
    client_auth: bool,
) -> x509.Certificate:
    usages = [ExtendedKeyUsageOID.SERVER_AUTH]
    if client_auth:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    san: list[x509.GeneralName] = [x509.DNSName(name) for name in SAN_DNS]
    san += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in SAN_IPS]
    return (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - dt.timedelta(minutes=5))
        .not_valid_after(moment + dt.timedelta(days=_LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
