"""The alerting policy's vocabulary: the device facts it reads, the commands it decides, and
the `Watch` it keeps per (rule, device).

Apart from `write_side.alerting_policy` (the decisions) because the commands and facts are what
the policy shares with its callers (the process manager, `alert_service` applying the
commands, the rule index) and its lanes; the policy module re-exports them, so
`from write_side.alerting_policy import OpenAlert` keeps working. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from write_side.alert_rules import RuleVersion
from write_side.alerts import PeakMode
from write_side.rule_compiled import EvaluationState


@dataclass(frozen=True)
class DeviceFacts:
    device_id: UUID
    tenant_id: str
    device_type: str
    tags: frozenset[str] = frozenset()


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
