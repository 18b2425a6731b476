"""The kinds of entity an auditor names (docs/audit.md 19.1): each is a set of aggregates, and
each aggregate's events are selected by its topic prefix (`write_side.event_names`), never by a
string spelled out here. `credential` is the credential events of a device's own stream (a
credential has no stream of its own); `audit` is the record of reads of the trail (19.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from eventsourcing.domain import Aggregate

from write_side.alert_rules import AlertRule
from write_side.alerts import Alert
from write_side.audit_reads import TrailRead
from write_side.deployment_claims import DeviceClaim
from write_side.deployment_executions import DeploymentExecution
from write_side.deployments import Deployment
from write_side.devices import DEVICE_CREDENTIAL_ISSUED, DEVICE_CREDENTIAL_REVOKED, Device
from write_side.event_names import topic_prefix, topics
from write_side.firmware import Firmware, FirmwareVersion
from write_side.firmware_keys import SigningKeys
from write_side.users import User


class EntityKind(StrEnum):
    DEVICE = "device"
    CREDENTIAL = "credential"
    RULE = "rule"
    ALERT = "alert"
    FIRMWARE = "firmware"
    DEPLOYMENT = "deployment"
    USER = "user"
    AUDIT = "audit"


# The aggregates whose state an as-of of each kind shows (a credential's is its device's).
KIND_AGGREGATES: Mapping[EntityKind, tuple[type[Aggregate], ...]] = {
    EntityKind.DEVICE: (Device,),
    EntityKind.CREDENTIAL: (Device,),
    EntityKind.RULE: (AlertRule,),
    EntityKind.ALERT: (Alert,),
    EntityKind.FIRMWARE: (Firmware, FirmwareVersion, SigningKeys),
    EntityKind.DEPLOYMENT: (Deployment, DeploymentExecution, DeviceClaim),
    EntityKind.USER: (User,),
    EntityKind.AUDIT: (TrailRead,),
}
# Kinds that are a subset of their aggregates' events: exactly these topics.
KIND_TOPICS: Mapping[EntityKind, frozenset[str]] = {
    EntityKind.CREDENTIAL: topics((DEVICE_CREDENTIAL_ISSUED, DEVICE_CREDENTIAL_REVOKED)),
}
READS_PREFIX = topic_prefix(TrailRead)


def is_change(topic: str) -> bool:
    """What the history shows when no kind is asked for: every change (telemetry included), not
    the record of reads (an auditor paging through the history would page through their own)."""
    return not topic.startswith(READS_PREFIX)


@dataclass(frozen=True)
class TopicSelection:
    """Which stored topics some kinds select: exact topics, or any under a prefix."""

    prefixes: tuple[str, ...]
    exact: frozenset[str]

    def __call__(self, topic: str) -> bool:
        return topic in self.exact or topic.startswith(self.prefixes)


def select_kinds(kinds: Iterable[EntityKind]) -> TopicSelection:
    prefixes: list[str] = []
    exact: set[str] = set()
    for kind in kinds:
        if kind in KIND_TOPICS:
            exact |= KIND_TOPICS[kind]
        else:
            prefixes += [topic_prefix(cls) for cls in KIND_AGGREGATES[kind]]
    return TopicSelection(tuple(sorted(set(prefixes))), frozenset(exact))
