"""The telemetry history, the audit event and the device credential as shown are declared once
(`api.telemetry`, `api.audit`, `api.credentials`; issue 11): the REST response models are those
definitions, and the GraphQL types derived from them carry exactly their fields (GraphQL pages
show the cursor in `pageInfo`), so both adapters show a row alike."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from uuid import uuid4

from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.app import create_app
from api.audit import AuditEventPublic
from api.credentials import DeviceCredentialPublic
from api.graphql.audit import AuditEvent
from api.graphql.telemetry import TelemetryHistory
from api.telemetry import BucketPublic, HistoryPublic, ReadingPublic
from event_store.envelope import EventEnvelope
from read_side.paging import Page
from read_side.telemetry import Bucket, HistoryQuery, RawReading, Resolution
from tests.unit.envelopes import recorded
from tests.unit.views import (
    graphql_fields,
    openapi_properties,
    same_times,
    schema_showing,
    wire_names,
)

AT = datetime(2026, 3, 1, 0, 1, tzinfo=UTC)
SHAPES = {
    "HistoryPublic": (HistoryPublic, "TelemetryHistory"),
    "ReadingPublic": (ReadingPublic, "TelemetryReading"),
    "BucketPublic": (BucketPublic, "TelemetryBucket"),
    "AuditEventPublic": (AuditEventPublic, "AuditEvent"),
    "DeviceCredentialPublic": (DeviceCredentialPublic, "DeviceCredential"),
}


def aliases(model: type[BaseModel]) -> list[str]:
    """The wire names, explicit aliases (the history's `from`, `to`) included."""
    return [info.alias or name for name, info in model.model_fields.items()]


def test_graphql_and_openapi_have_exactly_the_definitions_fields() -> None:
    app = create_app(None)
    for component, (model, graphql_name) in SHAPES.items():
        names = aliases(model)
        assert list(openapi_properties(app, component)) == names, component
        if model is HistoryPublic:  # the cursor: REST's `nextCursor`, GraphQL's `pageInfo`
            names = [n if n != "nextCursor" else "pageInfo" for n in names]
        assert list(graphql_fields(graphql_name)) == names, graphql_name


def a_history(resolution: Resolution) -> HistoryPublic:
    query = HistoryQuery.checked(uuid4(), "temp", AT, AT.replace(hour=2), resolution=resolution)
    raw = Page[RawReading | Bucket](items=[RawReading(AT, 21.5, "m1")], next_cursor="c1")
    buckets = Page[RawReading | Bucket](items=[Bucket(AT, 60, 1.0, 3.0, 4.0, 2)], next_cursor=None)
    return HistoryPublic.from_page(query, raw if resolution is Resolution.RAW else buckets)


def test_rest_and_graphql_show_a_history_alike() -> None:
    for resolution in (Resolution.RAW, Resolution.MINUTE):
        history = a_history(resolution)
        rest = history.model_dump(mode="json", by_alias=True)
        query = (
            "{ d { deviceId metric resolution from to readings { at value messageId }"
            " buckets { start end min max avg sum count } pageInfo { hasNextPage endCursor } } }"
        )
        shown_history = TelemetryHistory(view=history)
        result = schema_showing(TelemetryHistory, shown_history).execute_sync(query)
        assert result.errors is None
        assert result.data is not None
        shown = result.data["d"]
        assert shown.pop("resolution") == resolution.name  # GraphQL: names; REST: values
        assert rest.pop("resolution") == resolution.value
        cursor = rest.pop("nextCursor")
        assert shown.pop("pageInfo") == {"hasNextPage": cursor is not None, "endCursor": cursor}
        assert same_times(shown) == same_times(rest)
    assert a_history(Resolution.MINUTE).buckets[0].avg == 2.0


def test_rest_and_graphql_show_an_audit_event_alike() -> None:
    envelope = recorded(
        "Device.Updated",
        {"when": AT, "id": uuid4(), "tags": ("a",)},
        stream_id=uuid4(),
        version=2,
        at=AT,
        actor="user:alice",
        position=2**40,
    )
    event = AuditEventPublic.from_envelope(envelope, "7")
    rest = event.model_dump(mode="json", by_alias=True)
    query = "{ d { " + " ".join(wire_names(AuditEventPublic)) + " } }"
    result = schema_showing(AuditEvent, AuditEvent(view=event)).execute_sync(query)
    assert result.errors is None
    assert result.data is not None
    assert same_times(result.data["d"]) == same_times(rest)
    assert (rest["cursor"], rest["position"], rest["payload"]["tags"]) == ("7", 2**40, ["a"])


def test_an_audit_event_shows_every_envelope_field_but_the_tenant() -> None:
    """The shown event and the stored envelope are two declarations (the API's contract and the
    store's), so a field added to the envelope fails here until the auditors' shape decides."""
    envelope_fields = {field.name for field in dataclasses.fields(EventEnvelope)}
    assert set(AuditEventPublic.model_fields) == envelope_fields - {"tenant_id"} | {"cursor"}


def test_an_unknown_path_and_method_have_their_codes() -> None:
    client = TestClient(create_app(None))
    missing, not_allowed = client.get("/nowhere"), client.delete("/health")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert (not_allowed.status_code, not_allowed.json()["error"]["code"]) == (
        405,
        "METHOD_NOT_ALLOWED",
    )
