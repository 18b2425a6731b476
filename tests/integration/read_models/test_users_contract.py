"""Contract of `UsersReader` (docs/projections.md 8.4), run on SQLite and DynamoDB Local.

Every adapter promises: `get` answers the tenant's own row, equal field for field to what the
view wrote (optional fields absent stay None, push tokens in registration order, preferences
as recorded), and None for an unknown user or another tenant's; `tenant_users` answers every
user of the tenant and no other, ordered by user id; a row written again replaces the old one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from fleetwatch.bootstrap import _users_store, application_env
from fleetwatch.settings import Settings
from read_side.users import PushTokenRow, UserRow, UsersReader
from tests.integration.read_models.conftest import Checkpoints
from write_side.application import FleetApplication

TENANT, OTHER = "acme", "globex"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PREFERENCES = {
    "channels": {"critical": ["email", "push", "sms"], "warning": ["push"], "info": []},
    "quiet_hours": {"start": "22:00", "end": "07:00"},
    "critical_overrides_quiet_hours": True,
}


@dataclass
class Model:
    app: FleetApplication
    view: Any
    reader: UsersReader
    checkpoints: Checkpoints
    rows: list[UserRow]  # the tenant's users, in user-id order
    shared: UserRow  # the other tenant's row under one of the tenant's user ids


def user(tenant: str, index: int, **changes: Any) -> UserRow:
    row = UserRow(
        tenant_id=tenant,
        user_id=uuid.uuid4(),
        subject=f"auth0|{index}",
        email=f"u{index}@example.com" if index % 2 else None,
        display_name=f"Ünïcode {index}" if index % 3 else None,
        phone_e164="+4930123456" if index % 4 == 0 else None,
        time_zone="Europe/Berlin",
        locale="de-DE",
        preferences=PREFERENCES if index % 2 else {},
        push_tokens=tuple(
            PushTokenRow(f"{index:04d}{k:012x}", ("android", "ios", "web")[k], f"tok-{k}", T0)
            for k in range(index % 3)
        ),
        version=index + 1,
        updated_at=T0 + timedelta(minutes=index),
    )
    return replace(row, **changes)


@pytest.fixture(scope="module")
def model(contract_settings: Settings) -> Iterator[Model]:
    app = FleetApplication(env=application_env(contract_settings))
    view, reader = _users_store(app, contract_settings)
    rows = sorted((user(TENANT, i) for i in range(7)), key=lambda r: r.user_id)
    shared = user(OTHER, 50, user_id=rows[2].user_id, subject="globex|50")
    checkpoints = Checkpoints("users-contract")
    view.save_many(rows, checkpoints.next())
    view.save_many([user(OTHER, 51), shared], checkpoints.next())
    yield Model(app, view, reader, checkpoints, rows, shared)
    app.close()


def test_every_row_the_view_wrote_reads_back_equal(model: Model) -> None:
    for row in model.rows:
        assert model.reader.get(TENANT, row.user_id) == row


def test_a_row_with_every_field_set_reads_back_equal(model: Model) -> None:
    tenant = f"scratch-{uuid.uuid4().hex[:8]}"
    full = user(
        tenant,
        4,
        email="",
        display_name="Zoë ✓",
        updated_at=datetime(2026, 5, 1, 9, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5))),
        push_tokens=(
            PushTokenRow("b" * 16, "web", "w", T0 + timedelta(seconds=2)),
            PushTokenRow("a" * 16, "ios", "i", T0 + timedelta(seconds=1)),
        ),
        preferences={**PREFERENCES, "nested": {"x": [1, 2.5, None, "é"]}},
    )
    model.view.save_many([full], model.checkpoints.next())
    assert model.reader.get(tenant, full.user_id) == full
    assert model.reader.tenant_users(tenant) == [full]


def test_get_answers_none_for_an_unknown_user_and_another_tenants_row(model: Model) -> None:
    assert model.reader.get(TENANT, uuid.uuid4()) is None
    shared_id = model.shared.user_id
    assert model.reader.get(OTHER, shared_id) == model.shared
    assert model.reader.get(TENANT, shared_id) == model.rows[2]
    assert model.reader.get(OTHER, model.rows[0].user_id) is None
    assert model.reader.get("nobody", shared_id) is None


def test_tenant_users_answers_the_tenants_users_only_in_user_id_order(model: Model) -> None:
    assert model.reader.tenant_users(TENANT) == model.rows
    others = model.reader.tenant_users(OTHER)
    assert {r.tenant_id for r in others} == {OTHER}
    assert [r.user_id for r in others] == sorted(r.user_id for r in others)
    assert model.shared in others
    assert model.reader.tenant_users("nobody") == []


def test_a_row_written_again_replaces_the_old_one(model: Model) -> None:
    tenant = f"scratch-{uuid.uuid4().hex[:8]}"
    first = user(tenant, 1)
    model.view.save_many([first], model.checkpoints.next())
    second = replace(first, email=None, push_tokens=(), preferences={}, version=first.version + 1)
    model.view.save_many([second], model.checkpoints.next())
    assert model.reader.get(tenant, first.user_id) == second
    assert model.reader.tenant_users(tenant) == [second]
