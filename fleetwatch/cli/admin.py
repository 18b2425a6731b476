"""The commands that hand out secrets: `token issue` (a development JWT for the API) and
`credential issue` (a device's token), and the one that destroys them: `user erase` (a user's
personal data keys).

Apart from the other groups because these touch secrets and start no workers.
"""

from __future__ import annotations

from typing import Annotated

import typer

from fleetwatch.bootstrap import build_system
from fleetwatch.cli.common import fail
from fleetwatch.settings import Settings

token_app = typer.Typer(help="Bearer tokens for the API.", no_args_is_help=True)
credential_app = typer.Typer(help="Device credentials.", no_args_is_help=True)
user_app = typer.Typer(help="Users: erasing personal data.", no_args_is_help=True)

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


@user_app.command("erase")
def user_erase(
    tenant: Annotated[str, typer.Option(help="The user's tenant.")],
    user_id: Annotated[str | None, typer.Option(help="The user's id (a UUID).")] = None,
    subject: Annotated[str | None, typer.Option(help="Or the subject of their tokens.")] = None,
) -> None:
    """Erase a user's personal data: their data keys are destroyed, so email, name, phone and
    push tokens read as null from every event (docs/audit.md 19.7); the history still verifies."""
    from uuid import UUID

    from event_store.envelope import EventMetadata
    from write_side.errors import DomainError
    from write_side.user_commands import ErasePersonalData
    from write_side.users import user_id_for

    if (user_id is None) == (subject is None):
        raise fail("name the user with exactly one of --user-id and --subject")
    try:
        user = UUID(user_id) if user_id is not None else user_id_for(tenant, str(subject))
    except ValueError:
        raise fail(f"{user_id!r} is not a user id") from None
    system = build_system(Settings())
    try:
        meta = EventMetadata(tenant, "system:cli")
        saved = system.user_service.erase_personal_data(ErasePersonalData(user_id=user), meta)
    except DomainError as e:
        raise fail(e.message) from None
    finally:
        system.close()
    done = "erased" if saved.position else "already erased (nothing recorded)"
    print(
        f"user {user} of tenant {tenant}: personal data {done}, version {saved.aggregate.version}"
    )
