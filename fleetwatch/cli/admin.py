"""The commands that hand out secrets: `token issue` (a development JWT for the API) and
`credential issue` (a device's token).

Apart from the other groups because these print a secret once and start no workers.
"""

from __future__ import annotations

from typing import Annotated

import typer

from fleetwatch.bootstrap import build_system
from fleetwatch.cli.common import fail
from fleetwatch.settings import Settings

token_app = typer.Typer(help="Bearer tokens for the API.", no_args_is_help=True)
credential_app = typer.Typer(help="Device credentials.", no_args_is_help=True)

Role = Annotated[
    list[str],
    typer.Option("--role", "-r", help="Role (repeatable): viewer, operator, admin, auditor."),
]
ROLES = ("viewer", "operator", "admin", "auditor")


@token_app.command("issue")
def token_issue(
    tenant: Annotated[str, typer.Option(help="Tenant id carried by the token.")] = "demo",
    subject: Annotated[str, typer.Option(help="Subject (user id).")] = "dev-user",
    role: Role | None = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.", min=1)] = 3600,
) -> None:
    """Print a development JWT (HS256 with FLEETWATCH_JWT_SECRET)."""
    from api.auth import issue_token

    roles = role or ["admin"]
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise fail(f"unknown role(s) {', '.join(unknown)}; choose from {', '.join(ROLES)}")
    if not tenant.strip():
        raise fail("--tenant must not be empty")
    print(issue_token(Settings(), subject, tenant, roles, ttl))


@credential_app.command("issue")
def credential_issue(
    device_id: Annotated[str, typer.Argument(help="The device's id.")],
    tenant: Annotated[str, typer.Option(help="The device's tenant.")] = "demo",
) -> None:
    """Issue (or rotate) a device credential and print its token (shown once)."""
    from uuid import UUID

    from event_store.envelope import EventMetadata
    from write_side.credentials import IssueDeviceCredential
    from write_side.errors import DomainError

    try:
        command = IssueDeviceCredential(device_id=UUID(device_id))
    except ValueError:
        raise fail(f"{device_id!r} is not a device id") from None
    system = build_system(Settings())
    try:
        meta = EventMetadata(tenant, "system:cli")
        issued = system.device_service.issue_credential(command, meta)
    except DomainError as e:
        raise fail(e.message) from None
    finally:
        system.close()
    print(issued.token)
