"""`fleetwatch mqtt ca | issue | revoke | broker-config`: the fleet's certificate authority and
the devices' X.509 certificates for MQTT over TLS (docs/ingestion.md: certificates).

The authority lives in one directory: `ca.pem`, `ca.key` (mode 0600; keep it offline) and
`crl.pem`, the revocation list the broker reads. A certificate's common name is a registered
device's id, or the name of one of our own services (`--service`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import typer

from fleetwatch.cli.common import fail

if TYPE_CHECKING:
    from ingestion.x509 import Issued

mqtt_app = typer.Typer(help="Device certificates for MQTT over TLS.", no_args_is_help=True)

CaDir = Annotated[
    Path, typer.Option("--ca", help="The authority's directory (ca.pem, ca.key, crl.pem).")
]


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    """Write a new file (never over an existing one); a key readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _authority(directory: Path) -> Issued:
    from ingestion.x509 import Issued, certificate_serial

    try:
        certificate = (directory / "ca.pem").read_bytes()
        key = (directory / "ca.key").read_bytes()
        return Issued(certificate, key, certificate_serial(certificate))
    except OSError as e:
        raise fail(f"no certificate authority in {directory}: {e.strerror}") from None
    except ValueError as e:
        raise fail(str(e)) from None


@mqtt_app.command("ca")
def ca(
    directory: Annotated[Path, typer.Argument(help="A new or empty directory for it.")],
    name: Annotated[str, typer.Option(help="The authority's name.")] = "Fleetwatch devices CA",
    days: Annotated[int, typer.Option(help="Validity in days.", min=1)] = 3650,
) -> None:
    """Make the fleet's certificate authority and its empty revocation list."""
    from ingestion.x509 import new_authority, revocation_list

    directory.mkdir(parents=True, exist_ok=True)
    if any((directory / f).exists() for f in ("ca.pem", "ca.key", "crl.pem")):
        raise fail(f"{directory} already holds an authority; nothing was written")
    authority = new_authority(name, days=days)
    _write(directory / "ca.key", authority.key, secret=True)
    _write(directory / "ca.pem", authority.certificate)
    _write(directory / "crl.pem", revocation_list(authority, []))
    print(f"authority {authority.serial:x} in {directory}")


@mqtt_app.command("issue")
def issue(  # noqa: PLR0917 - typer options
    name: Annotated[str, typer.Argument(help="A registered device's id, or a service's name.")],
    authority_dir: CaDir,
    out: Annotated[Path, typer.Option(help="Directory for <name>.pem and <name>.key.")],
    tenant: Annotated[str, typer.Option(help="The device's tenant.")] = "demo",
    service: Annotated[
        bool, typer.Option("--service", help="NAME is one of our services, not a device.")
    ] = False,
    server_name: Annotated[
        list[str] | None,
        typer.Option(help="A broker's DNS name or IP (repeatable): a server certificate."),
    ] = None,
    days: Annotated[int, typer.Option(help="Validity in days.", min=1)] = 825,
) -> None:
    """Issue a certificate for a registered, active device (its id is the common name), or
    for a service (`--service`) or the broker (`--service --server-name ...`)."""
    from ingestion.x509 import CertificateError
    from ingestion.x509 import issue as issue_certificate

    authority = _authority(authority_dir)
    if service:
        if _device_id(name) is not None:
            raise fail(f"{name!r} is a device id: a service's name must not be one")
    else:
        device_id = _device_id(name)
        if device_id is None:
            raise fail(f"{name!r} is not a device id (a service's certificate: --service)")
        _check_registered(tenant, device_id)
        name = str(device_id)
    try:
        issued = issue_certificate(authority, name, days=days, server_names=server_name or ())
    except CertificateError as e:
        raise fail(str(e)) from None
    out.mkdir(parents=True, exist_ok=True)
    if (out / f"{name}.pem").exists() or (out / f"{name}.key").exists():
        raise fail(f"{out} already holds {name}.pem or {name}.key; nothing was written")
    _write(out / f"{name}.key", issued.key, secret=True)
    _write(out / f"{name}.pem", issued.certificate)
    print(f"certificate {issued.serial:x} for {name} in {out}")


def _device_id(name: str) -> UUID | None:
    try:
        return UUID(name)
    except ValueError:
        return None


def _check_registered(tenant: str, device_id: UUID) -> None:
    from fleetwatch.bootstrap import build_system
    from fleetwatch.settings import Settings
    from write_side.devices import Device

    system = build_system(Settings())
    try:
        device = system.app.find(Device, tenant, device_id)
    finally:
        system.close()
    if device is None:
        raise fail(f"no device {device_id} in tenant {tenant!r}; nothing was issued")
    if device.is_decommissioned:
        raise fail(f"device {device_id} is decommissioned; nothing was issued")


@mqtt_app.command("revoke")
def revoke(
    certificate: Annotated[Path, typer.Argument(help="The certificate (PEM) to revoke.")],
    authority_dir: CaDir,
) -> None:
    """Add a certificate to the revocation list (then `kill -HUP` the broker: it refuses the
    certificate's next connection)."""
    from ingestion.x509 import (
        CertificateError,
        certificate_serial,
        revocation_list,
        revoked_serials,
    )

    authority = _authority(authority_dir)
    crl_path = authority_dir / "crl.pem"
    try:
        serial = certificate_serial(certificate.read_bytes())
        serials = revoked_serials(crl_path.read_bytes())
    except OSError as e:
        raise fail(f"{e.filename}: {e.strerror}") from None
    except CertificateError as e:
        raise fail(str(e)) from None
    fresh = crl_path.with_suffix(".pem.new")
    fresh.unlink(missing_ok=True)
    _write(fresh, revocation_list(authority, [*serials, serial]))
    fresh.replace(crl_path)  # whole or not at all: the broker never reads half a list
    print(f"revoked {serial:x}; {len(set(serials) | {serial})} in {crl_path}")


@mqtt_app.command("broker-config")
def broker_config(  # noqa: PLR0917 - typer options
    authority_dir: CaDir,
    out: Annotated[Path, typer.Option(help="Directory for mosquitto.conf and acl.")],
    cert: Annotated[Path, typer.Option(help="The broker's certificate (PEM).")],
    key: Annotated[Path, typer.Option(help="The broker's key (PEM).")],
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8883,
    bind: Annotated[str | None, typer.Option(help="Address to listen on (default: all).")] = None,
    service: Annotated[
        list[str] | None, typer.Option(help="Our services' names (repeatable).")
    ] = None,
) -> None:
    """Write the Mosquitto configuration: a TLS listener requiring a device certificate, and
    the ACL that lets each device publish on its own topics only."""
    from ingestion.mosquitto import DEFAULT_SERVICES, acl, tls_listener

    out.mkdir(parents=True, exist_ok=True)
    acl_file = out / "acl"
    acl_file.write_text(acl(service or DEFAULT_SERVICES))
    config = tls_listener(
        port=port,
        ca_file=(authority_dir / "ca.pem").resolve(),
        cert_file=cert.resolve(),
        key_file=key.resolve(),
        crl_file=(authority_dir / "crl.pem").resolve(),
        acl_file=acl_file.resolve(),
        bind=bind,
    )
    (out / "mosquitto.conf").write_text(config)
    print(f"mosquitto -c {(out / 'mosquitto.conf').resolve()}")
