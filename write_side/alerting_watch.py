"""The alerting policy's vocabulary: the device facts it reads, the commands it decides, and
the `Watch` it keeps per (rule, device) (held by `write_side.alerting_table.WatchTable`).

Apart from `write_side.alerting_policy` (the decisions) because the commands and facts are what
the policy shares with its callers (the process manager, `alert_service` applying the
commands, the rule index) and its lanes; the policy module re-exports them, so
`from write_side.alerting_policy import OpenAlert` keeps working. No I/O.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from write_side.alert_rules import RuleVersion
from write_side.alerts import PeakMode, alert_id
from write_side.interned import tag_set
from write_side.rule_compiled import EvaluationState


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """One per registered device in the alerting manager's index: slots, and the tenant, the
    type and the tag set shared (`write_side.interned`: one object per distinct value)."""

    device_id: UUID
    tenant_id: str
    device_type: str
    tags: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "tenant_id", sys.intern(self.tenant_id))
        object.__setattr__(self, "device_type", sys.intern(self.device_type))
        object.__setattr__(self, "tags", tag_set(self.tags))


@dataclass(frozen=True)
class OpenAlert:
    alert_id: UUID
    tenant_id: str
    rule_id: UUID
    rule_revision: int
    device_id: UUID
    episode: int
    severity: str
    value: float | None
    at: datetime
    peak_mode: PeakMode


@dataclass(frozen=True)
class RecordRepeat:
    alert_id: UUID
    value: float
    at: datetime


@dataclass(frozen=True)
class AutoResolve:
    alert_id: UUID
    value: float | None
    at: datetime
    note: str | None = None


AlertCommand = OpenAlert | RecordRepeat | AutoResolve


@dataclass(slots=True)  # one per (rule, device): 100 rules x 10,000 devices are a million
class Watch:
    rule_id: UUID
    device: DeviceFacts
    rule: RuleVersion | None = None  # None while the rule does not apply (episodes still count)
    state: EvaluationState | None = None
    episode: int = 0
    open_alert: UUID | None = None


def applies(rule: RuleVersion, device: DeviceFacts) -> bool:
    """Whether the rule is the device's tenant's, enabled and scoped to the device."""
    d = rule.definition
    return (
        rule.tenant_id == device.tenant_id
        and d.enabled
        and d.matches_scope(device.device_id, device.device_type, device.tags)
    )


def semantics(rule: RuleVersion) -> tuple[object, ...]:
    """What a revision must change for a pair's evaluation to start anew."""
    return rule.definition.condition, rule.definition.clear_comparison


def open_next(watch: Watch, rule: RuleVersion, value: float | None, at: datetime) -> OpenAlert:
    """Open the pair's next episode (its alert id follows from it) and say so."""
    device = watch.device
    watch.episode += 1
    watch.open_alert = alert_id(device.tenant_id, rule.rule_id, device.device_id, watch.episode)
    raising = rule.definition.raise_comparison
    lowest = raising is not None and raising.op in ("<", "<=")
    return OpenAlert(
        watch.open_alert, device.tenant_id, rule.rule_id, rule.revision, device.device_id,
        watch.episode, rule.definition.severity, value, at, "lowest" if lowest else "highest",
    )  # fmt: skip
