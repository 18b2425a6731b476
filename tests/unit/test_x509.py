"""The fleet's certificate authority (ingestion/x509.py): pure, no broker."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pydantic import ValidationError

from ingestion.mosquitto import acl
from ingestion.mqtt_session import MqttTls
from ingestion.settings import IngestSettings
from ingestion.x509 import (
    CertificateError,
    Issued,
    certificate_serial,
    device_of,
    issue,
    new_authority,
    revocation_list,
    revoked_serials,
)


@pytest.fixture(scope="module")
def authority() -> Issued:
    return new_authority()


def test_a_device_certificate_names_the_device(authority: Issued) -> None:
    device = uuid.uuid4()
    issued = issue(authority, str(device))
    assert device_of(issued.certificate) == device
    assert certificate_serial(issued.certificate) == issued.serial
    assert device_of(issue(authority, "fleetwatch").certificate) is None


def test_the_revocation_list_names_what_was_revoked(authority: Issued) -> None:
    a, b = issue(authority, str(uuid.uuid4())), issue(authority, str(uuid.uuid4()))
    assert revoked_serials(revocation_list(authority, [])) == []
    crl = revocation_list(authority, [b.serial, a.serial, a.serial])
    assert revoked_serials(crl) == sorted([a.serial, b.serial])


@pytest.mark.parametrize("name", ["", "a/b", "dev+", "#", "x" * 65])
def test_a_name_that_could_not_be_a_topic_level_is_refused(authority: Issued, name: str) -> None:
    with pytest.raises(CertificateError):
        issue(authority, name)


def test_a_key_that_is_not_the_authoritys_is_refused(authority: Issued) -> None:
    other = new_authority()
    with pytest.raises(CertificateError, match="not the authority"):
        issue(Issued(authority.certificate, other.key, authority.serial), "fleetwatch")
    with pytest.raises(CertificateError):
        issue(Issued(b"not pem", authority.key, 0), "fleetwatch")


def test_the_acl_lets_a_device_write_only_its_own_topics() -> None:
    text = acl(["fleetwatch"])
    assert "pattern write devices/%u/telemetry" in text.splitlines()
    assert "pattern read devices/%u/jobs/#" in text.splitlines()
    assert not any(line.startswith("pattern write devices/+") for line in text.splitlines())
    assert "user fleetwatch" in text.splitlines()


def test_settings_refuse_half_a_client_certificate_or_certificates_without_tls() -> None:
    with pytest.raises(ValidationError, match="go together"):
        IngestSettings(mqtt_cert_file=Path("c.pem"))
    with pytest.raises(ValidationError, match="needs an mqtts://"):
        IngestSettings(mqtt_url="mqtt://broker:1883", mqtt_device_auth="certificate")
    with pytest.raises(ValidationError, match="needs an mqtts://"):
        IngestSettings(mqtt_device_auth="certificate")
    with pytest.raises(ValidationError, match="mqtt://host:port or mqtts://"):
        IngestSettings(mqtt_url="tcp://broker:1883")
    ok = IngestSettings(mqtt_url="mqtts://broker", mqtt_device_auth="certificate")
    assert ok.mqtt_tls() == MqttTls()
