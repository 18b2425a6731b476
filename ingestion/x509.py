"""Per-device X.509 certificates for MQTT over TLS (docs/ingestion.md: certificates): the fleet's
own certificate authority, a certificate per device whose subject common name is the device's
id, and the revocation list the broker refuses revoked certificates by.

Pure (no I/O): every function takes and returns PEM bytes; `fleetwatch mqtt` writes them to
files. Keys are ECDSA P-256 (small, quick, what AWS IoT Core and every TLS stack accept).

The broker (Mosquitto: `require_certificate true`, `use_identity_as_username true`, an ACL
`pattern write devices/%u/telemetry`) proves the device id, so the ingestion subscriber may trust
the topic instead of a token in each message (`FLEETWATCH_MQTT_DEVICE_AUTH=certificate`). A
service (our subscriber, the job publisher) gets a certificate whose name is not a device id.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class CertificateError(ValueError):
    """A certificate, key or revocation list that is not usable as asked."""


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key (PEM), and the certificate's serial number."""

    certificate: bytes
    key: bytes
    serial: int


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


_CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def new_authority(name: str = "Fleetwatch devices CA", *, days: int = 3650) -> Issued:
    """A self-signed certificate authority (the fleet's own; keep its key offline)."""
    key, now = _key(), datetime.now(UTC)
    subject = _name(name)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    serial = certificate.serial_number
    return Issued(certificate.public_bytes(serialization.Encoding.PEM), _key_pem(key), serial)


def _load_authority(
    authority: Issued,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        certificate = x509.load_pem_x509_certificate(authority.certificate)
        key = serialization.load_pem_private_key(authority.key, password=None)
    except (ValueError, TypeError) as e:
        raise CertificateError(f"not a PEM certificate authority and its key: {e}") from e
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateError("the authority's key is not an EC key")
    if certificate.public_key() != key.public_key():
        raise CertificateError("the key is not the authority certificate's")
    return certificate, key


def issue(
    authority: Issued, common_name: str, *, days: int = 825, server_names: Iterable[str] = ()
) -> Issued:
    """A certificate for `common_name` (a device's id, or a service's name) signed by
    `authority`, with a new key. `server_names`: DNS names or IP addresses for a broker's own
    certificate (then it is a server certificate; otherwise a client one)."""
    # The broker puts the name into topics (ACL `%u`): no topic level separator or wildcard.
    if not 0 < len(common_name) <= 64 or any(c in common_name for c in "/+#\x00"):
        raise CertificateError(f"{common_name!r} can not name a certificate (1-64, no / + #)")
    ca_certificate, ca_key = _load_authority(authority)
    key, now = _key(), datetime.now(UTC)
    names = list(server_names)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if names else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(min(now + timedelta(days=days), ca_certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False
        )
    certificate = builder.sign(ca_key, hashes.SHA256())
    serial = certificate.serial_number
    return Issued(certificate.public_bytes(serialization.Encoding.PEM), _key_pem(key), serial)


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def revocation_list(authority: Issued, serials: Iterable[int], *, days: int = 30) -> bytes:
    """The authority's certificate revocation list (PEM) naming `serials`, valid for `days`
    (publish a new one before then: a broker refuses every client once its list expired)."""
    ca_certificate, ca_key = _load_authority(authority)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_certificate.subject)
        .last_update(now - timedelta(minutes=5))
        .next_update(now + timedelta(days=days))
    )
    for serial in sorted(set(serials)):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - timedelta(minutes=5))
            .build()
        )
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def revoked_serials(crl: bytes) -> list[int]:
    """The serial numbers a revocation list (PEM) names, in order."""
    try:
        loaded = x509.load_pem_x509_crl(crl)
    except ValueError as e:
        raise CertificateError(f"not a PEM revocation list: {e}") from e
    return sorted(r.serial_number for r in loaded)


def certificate_serial(certificate: bytes) -> int:
    try:
        return x509.load_pem_x509_certificate(certificate).serial_number
    except ValueError as e:
        raise CertificateError(f"not a PEM certificate: {e}") from e


def device_of(certificate: bytes) -> UUID | None:
    """The device a certificate names (its common name as a device id); None for a service's."""
    try:
        loaded = x509.load_pem_x509_certificate(certificate)
    except ValueError as e:
        raise CertificateError(f"not a PEM certificate: {e}") from e
    names = loaded.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    try:
        return UUID(str(names[0].value)) if names else None
    except ValueError:
        return None
