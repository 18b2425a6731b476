"""Event names as code (`write_side.event_names`): the topics and types that projections and
process managers select events by are derived from the event classes, stay what the store has
recorded, and are never spelled out as string literals outside the write side."""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterator
from dataclasses import FrozenInstanceError, fields
from pathlib import Path

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic, resolve_topic

import projections.alert_views
import projections.alerting
import projections.device_status
import projections.notifier
import projections.telemetry
import projections.users
from event_store.envelope import EventEnvelope, EventMetadata, recording_as
from write_side.alert_rules import RULE_EVENTS, AlertRule
from write_side.alerts import ALERT_EVENTS, Alert
from write_side.application import FleetApplication
from write_side.audit_reads import TRAIL_READ_EVENTS, TrailRead
from write_side.commands import RegisterDevice
from write_side.deployment_claims import CLAIM_EVENTS, DeviceClaim
from write_side.deployment_executions import EXECUTION_EVENTS, DeploymentExecution
from write_side.deployments import DEPLOYMENT_EVENTS, Deployment
from write_side.device_service import DeviceService
from write_side.devices import DEVICE_EVENTS, DEVICE_REGISTERED, Device
from write_side.event_names import EventName, event_name, type_prefix
from write_side.exports import EXPORT_EVENTS, Export
from write_side.firmware import FIRMWARE_EVENTS, FIRMWARE_VERSION_EVENTS, Firmware, FirmwareVersion
from write_side.firmware_keys import SIGNING_KEYS_EVENTS, SigningKeys
from write_side.telemetry_log import TELEMETRY_EVENTS, Telemetry
from write_side.users import USER_EVENTS, User

ROOT = Path(__file__).resolve().parents[2]
NAMED: list[tuple[type[Aggregate], tuple[EventName, ...]]] = [
    (Device, DEVICE_EVENTS),
    (Telemetry, TELEMETRY_EVENTS),
    (AlertRule, RULE_EVENTS),
    (Alert, ALERT_EVENTS),
    (User, USER_EVENTS),
    (Deployment, DEPLOYMENT_EVENTS),
    (Firmware, FIRMWARE_EVENTS),
    (FirmwareVersion, FIRMWARE_VERSION_EVENTS),
    (SigningKeys, SIGNING_KEYS_EVENTS),
    (DeploymentExecution, EXECUTION_EVENTS),
    (DeviceClaim, CLAIM_EVENTS),
    (TrailRead, TRAIL_READ_EVENTS),
    (Export, EXPORT_EVENTS),
]
# What the stores hold: events recorded under these topics must keep resolving (moving or
# renaming an aggregate or an event breaks them, and must fail here first).
STORED_TOPICS = {
    "write_side.devices:Device.Registered",
    "write_side.devices:Device.Updated",
    "write_side.devices:Device.CredentialIssued",
    "write_side.devices:Device.CredentialRevoked",
    "write_side.devices:Device.Decommissioned",
    "write_side.telemetry_log:Telemetry.Opened",
    "write_side.telemetry_log:Telemetry.BatchRecorded",
    "write_side.telemetry_log:Telemetry.DeviceCameOnline",
    "write_side.telemetry_log:Telemetry.DeviceWentOffline",
    "write_side.alert_rules:AlertRule.Created",
    "write_side.alert_rules:AlertRule.Revised",
    "write_side.alert_rules:AlertRule.Deleted",
    "write_side.alerts:Alert.Raised",
    "write_side.alerts:Alert.Repeated",
    "write_side.alerts:Alert.Acknowledged",
    "write_side.alerts:Alert.Resolved",
    "write_side.alerts:Alert.Escalated",
    "write_side.users:User.ProfileCreated",
    "write_side.users:User.ProfileUpdated",
    "write_side.users:User.PreferencesChanged",
    "write_side.users:User.PushTokenRegistered",
    "write_side.users:User.PushTokenRemoved",
    "write_side.users:User.PersonalDataErased",
    "write_side.deployments:Deployment.Created",
    "write_side.deployments:Deployment.Started",
    "write_side.deployments:Deployment.WaveApprovalRequested",
    "write_side.deployments:Deployment.WaveApproved",
    "write_side.deployments:Deployment.WaveStarted",
    "write_side.deployments:Deployment.SoakStarted",
    "write_side.deployments:Deployment.HealthChecked",
    "write_side.deployments:Deployment.WavePromoted",
    "write_side.deployments:Deployment.Paused",
    "write_side.deployments:Deployment.Resumed",
    "write_side.deployments:Deployment.Aborted",
    "write_side.deployments:Deployment.Canceled",
    "write_side.deployments:Deployment.Finished",
    "write_side.deployments:Deployment.Completed",
    "write_side.firmware:Firmware.UploadRequested",
    "write_side.firmware:Firmware.Published",
    "write_side.firmware:Firmware.UploadRejected",
    "write_side.firmware:Firmware.Withdrawn",
    "write_side.firmware:FirmwareVersion.Claimed",
    "write_side.firmware_keys:SigningKeys.Opened",
    "write_side.firmware_keys:SigningKeys.KeyRegistered",
    "write_side.firmware_keys:SigningKeys.KeyRevoked",
    "write_side.firmware_keys:SigningKeys.RequirementChanged",
    "write_side.deployment_executions:DeploymentExecution.Queued",
    "write_side.deployment_executions:DeploymentExecution.Notified",
    "write_side.deployment_executions:DeploymentExecution.Advanced",
    "write_side.deployment_executions:DeploymentExecution.Succeeded",
    "write_side.deployment_executions:DeploymentExecution.Failed",
    "write_side.deployment_executions:DeploymentExecution.TimedOut",
    "write_side.deployment_executions:DeploymentExecution.Rejected",
    "write_side.deployment_executions:DeploymentExecution.Canceled",
    "write_side.deployment_executions:DeploymentExecution.RolledBack",
    "write_side.deployment_executions:DeploymentExecution.Retried",
    "write_side.deployment_executions:DeploymentExecution.RetryAbandoned",
    "write_side.deployment_claims:DeviceClaim.Opened",
    "write_side.deployment_claims:DeviceClaim.Claimed",
    "write_side.audit_reads:TrailRead.Recorded",
    "write_side.exports:Export.Requested",
    "write_side.exports:Export.Progressed",
    "write_side.exports:Export.Completed",
    "write_side.exports:Export.Failed",
}


def test_each_aggregate_module_names_every_event_it_records() -> None:
    for aggregate, names in NAMED:
        declared = {
            value
            for value in vars(aggregate).values()
            if isinstance(value, type) and issubclass(value, Aggregate.Event)
        } - {aggregate.Event}  # the library's base, never recorded
        if len([c for c in declared if issubclass(c, Aggregate.Created)]) > 1:
            # `@event("Registered") def __init__` still leaves the library's default `Created`
            # on the class, never recorded (`AlertRule`'s `Created` is its own event).
            declared.remove(vars(aggregate)["Created"])
        assert {n.cls for n in names} == declared, aggregate.__qualname__
        for n in names:
            assert n.topic == get_topic(n.cls)
            assert n.type == n.cls.__qualname__
            assert n.type.startswith(type_prefix(aggregate))


def test_the_named_topics_are_the_stored_ones() -> None:
    named = {n.topic for _, names in NAMED for n in names}
    assert named == STORED_TOPICS
    for topic in STORED_TOPICS:
        assert get_topic(resolve_topic(topic)) == topic


def test_the_public_event_types_keep_their_spelling() -> None:
    """Change notices and the API carry envelope types ("Device.Registered" in `deviceChanged`,
    "Telemetry.BatchRecorded" on telemetry topics): the topic's part after the colon."""
    assert {n.type for _, names in NAMED for n in names} == {t.split(":")[1] for t in STORED_TOPICS}


def test_an_event_recorded_by_the_application_carries_its_name() -> None:
    app = FleetApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        meta = EventMetadata(tenant_id="acme", actor="user:alice")
        with recording_as(meta):
            DeviceService(app).register(RegisterDevice(name="pump", device_type="pump"), meta)
        (notification,) = app.recorder.select_notifications(start=1, limit=10)
        assert notification.topic == DEVICE_REGISTERED.topic
        envelope = app.envelope_mapper.to_envelope(notification)
        assert envelope.type == DEVICE_REGISTERED.type
        # built without the dataclass's __init__: every field set, none more, and as frozen
        assert envelope == EventEnvelope(
            **{f.name: getattr(envelope, f.name) for f in fields(envelope)}
        )
        assert set(vars(envelope)) == {f.name for f in fields(EventEnvelope)}
        assert (envelope.tenant_id, envelope.actor, envelope.position) == ("acme", "user:alice", 1)
        with pytest.raises(FrozenInstanceError):
            envelope.version = 2  # type: ignore[misc]
    finally:
        app.close()


def test_an_undeclared_event_fails_at_naming() -> None:
    with pytest.raises(LookupError, match="Device declares no event 'Exploded'"):
        event_name(Device, "Exploded")
    with pytest.raises(LookupError):
        event_name(Device, "update")  # a method, not an event class


def _handled_topics() -> Iterator[tuple[str, str]]:
    """(where, topic) of every topic a projection or process manager selects events by."""
    sets = {
        "alert_views.DEVICE_TOPICS": projections.alert_views.DEVICE_TOPICS,
        "alerting.FACT_TOPICS": projections.alerting.FACT_TOPICS,
        "alerting.BATCH_TOPIC": (projections.alerting.BATCH_TOPIC,),
        "device_status.ROW_TOPICS": projections.device_status.ROW_TOPICS,
        "notifier.ALERT_TOPICS": projections.notifier.ALERT_TOPICS,
        "telemetry.BATCH_TOPIC": (projections.telemetry.BATCH_TOPIC,),
    }
    for where, topics in sets.items():
        assert topics, where
        yield from ((where, topic) for topic in topics)


def test_every_topic_a_projection_handles_is_an_event_class() -> None:
    for where, topic in _handled_topics():
        cls = resolve_topic(topic)
        assert isinstance(cls, type), where
        assert issubclass(cls, Aggregate.Event), where
        assert get_topic(cls) == topic, where


def test_every_topic_prefix_a_projection_handles_is_an_aggregate() -> None:
    prefixes = {
        "alert_views.RULE_PREFIX": projections.alert_views.RULE_PREFIX,
        "alert_views.ALERT_PREFIX": projections.alert_views.ALERT_PREFIX,
        "alerting.ALERT_PREFIX": projections.alerting.ALERT_PREFIX,
        "device_status.DEVICE_TOPIC_PREFIX": projections.device_status.DEVICE_TOPIC_PREFIX,
        "device_status.TELEMETRY_TOPIC_PREFIX": projections.device_status.TELEMETRY_TOPIC_PREFIX,
        "users.USER_TOPIC_PREFIX": projections.users.USER_TOPIC_PREFIX,
    }
    for where, prefix in prefixes.items():
        assert prefix.endswith("."), where
        aggregate = resolve_topic(prefix[:-1])
        assert isinstance(aggregate, type), where
        assert issubclass(aggregate, Aggregate), where
        assert any(t.startswith(prefix) for t in STORED_TOPICS), where


# Packages outside the write side: none spells a stored topic. Projections and process managers
# and the API do not spell envelope types either ("Alert.Raised"): they use the aggregates' names.
NO_TOPICS = ("api", "event_store", "fleetwatch", "ingestion", "notifications", "projections",
             "read_side")  # fmt: skip
NO_TYPES = ("api", "ingestion", "notifications", "projections", "read_side")
_QUOTE = re.compile(r"^[a-zA-Z]*('''|\"\"\"|'|\")")
_TYPE_PREFIXES = tuple(type_prefix(aggregate) for aggregate, _ in NAMED)


def _string_literals(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of each string literal in `path` (an f-string's text up to its first
    field), with its prefix and opening quote removed."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    for token in tokens:
        if token.type == tokenize.STRING:
            quote = _QUOTE.match(token.string)
            assert quote is not None, (path, token.string)
            yield token.start[0], token.string[quote.end() :]


def _literals_starting_with(packages: tuple[str, ...], prefixes: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line}: {text[:60]}"
        for package in packages
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, text in _string_literals(path)
        if text.startswith(prefixes)
    ]


def test_no_topic_literals_outside_the_write_side() -> None:
    assert _literals_starting_with(NO_TOPICS, ("write_side.",)) == []


def test_no_event_type_literals_in_projections_and_process_managers() -> None:
    assert _literals_starting_with(NO_TYPES, _TYPE_PREFIXES) == []


def test_the_literal_scan_finds_literals() -> None:
    """The scan itself: a check that cannot find anything would pass forever."""
    found = _literals_starting_with(("tests/unit",), ("write_side.devices:Device.",))
    assert any("test_event_names.py" in f for f in found)
