"""Any entity as of a past point (docs/audit.md 19.2): GraphQL `deviceAsOf` and `entityAsOf`,
REST `GET /devices/{deviceId}/as-of` and `GET /entities/{kind}/{entityId}/as-of`, declared
once each (`api.operations`). The state is rebuilt by the aggregate's own code
(`write_side.audit_service.AuditService.as_of`) and shown as JSON of its public fields
(`state_of`). Each read is recorded (19.3), like a read of the history.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import datetime
from enum import Enum
from typing import Annotated, Any
from uuid import UUID

import strawberry
from anyio import to_thread
from eventsourcing.domain import Aggregate
from fastapi import Path, Query
from pydantic import BaseModel

from api.audit import jsonable, parse_entity_id, record_read
from api.auth import Permission
from api.device_view import View
from api.operations import QUERY, Arg, Call, GraphQL, Operation, Rest
from read_side.times import as_utc
from write_side.entity_kinds import EntityKind

# The aggregate's own bookkeeping, shown under their public names.
LIBRARY_FIELDS = ("id", "version", "created_on", "modified_on")


class AsOfPublic(View):
    kind: EntityKind
    id: UUID
    aggregate: str  # the aggregate class, e.g. "Device"
    version: int  # the version shown
    latest_version: int  # the stream's version now
    recorded_at: datetime  # when the event of `version` was recorded
    state: dict[str, Any]  # the aggregate's public fields as JSON values (`state_of`)


def state_of(aggregate: Aggregate) -> dict[str, Any]:
    """The aggregate's public fields: its attributes not starting with `_`, and the library's
    id, version, created_on and modified_on; values as JSON (models and dataclasses as
    objects, enums as their values, sets as sorted lists)."""
    fields = {name: value for name, value in vars(aggregate).items() if not name.startswith("_")}
    fields |= {name: getattr(aggregate, name) for name in LIBRARY_FIELDS}
    return {name: _json(value) for name, value in sorted(fields.items())}


def _json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _json(value.model_dump(mode="json"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _json(dataclasses.asdict(value))
    if isinstance(value, Enum):
        return _json(value.value)
    if isinstance(value, set | frozenset):
        return sorted((_json(v) for v in value), key=str)
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return jsonable(value)


async def entity_as_of(call: Call) -> AsOfPublic:
    kind = EntityKind(call.args.get("kind", EntityKind.DEVICE))
    at = None if call["at"] is None else as_utc(call["at"], "at")
    read = functools.partial(
        call.system.audit_service.as_of, kind, call.caller.tenant_id, call["id"],
        version=call["version"], at=at,
    )  # fmt: skip
    found = await to_thread.run_sync(read)
    await record_read(call, "as_of", 1)
    return AsOfPublic(
        kind=kind,
        id=found.aggregate.id,
        aggregate=type(found.aggregate).__name__,
        version=found.version,
        latest_version=found.latest_version,
        recorded_at=found.recorded_at,
        state=state_of(found.aggregate),
    )


def _point() -> tuple[Arg, Arg]:
    return (
        Arg("at", Annotated[datetime | None, Query(description="A recorded instant (ISO 8601).")],
            datetime | None, None),
        Arg("version", Annotated[int | None, Query(description="A stream version.")],
            int | None, None),
    )  # fmt: skip


def _id(alias: str, what: str) -> Arg:
    return Arg("id", Annotated[UUID, Path(alias=alias, description=f"The {what}'s id.")],
               strawberry.ID, parse=parse_entity_id)  # fmt: skip


OPERATIONS = (
    Operation(
        "device_as_of", Permission.READ_EVENTS, entity_as_of, AsOfPublic,
        args=(_id("deviceId", "device"), *_point()),
        rest=Rest(
            "GET", "/devices/{deviceId}/as-of",
            "A device as it was at a recorded instant or a version (auditor, admin)", etag=False,
        ),
        graphql=GraphQL("device_as_of", QUERY),
    ),
    Operation(
        "entity_as_of", Permission.READ_EVENTS, entity_as_of, AsOfPublic,
        args=(
            Arg("kind", Annotated[EntityKind, Path(description="The entity's kind.")],
                EntityKind),
            _id("entityId", "entity"), *_point(),
        ),
        rest=Rest(
            "GET", "/entities/{kind}/{entityId}/as-of",
            "Any entity as it was at a recorded instant or a version (auditor, admin)",
            etag=False,
        ),
        graphql=GraphQL("entity_as_of", QUERY),
    ),
)  # fmt: skip
