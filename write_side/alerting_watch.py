"""The alerting policy's vocabulary: the device facts it reads, the commands it decides, and
the `Watch` it keeps per (rule, device) and the `WatchTable` holding them.

Apart from `write_side.alerting_policy` (the decisions) because the commands and facts are what
the policy shares with its callers (the process manager, `alert_service` applying the
commands, the rule index) and its lanes; the policy module re-exports them, so
`from write_side.alerting_policy import OpenAlert` keeps working. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, ValuesView
from dataclasses import dataclass
from datetime import datetime
from typing import Any
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


class WatchTable(MutableMapping[tuple[UUID, UUID], Watch]):
    """The policy's watches by (rule id, device id), held per device then per rule.

    Nested rather than one dict keyed by (rule, device) tuples: no tuple per pair (72 bytes),
    and a device's own dict is the lookup `handle_readings` makes per rule (before: a second
    dict per device keyed by `id(rule)`, an int object per pair). A million pairs at 10,000
    devices x 100 rules (issue 14)."""

    def __init__(self) -> None:
        self._devices: dict[UUID, dict[UUID, Watch]] = {}
        self._count = 0

    def of_device(self, device_id: UUID) -> dict[UUID, Watch]:
        """The device's watches by rule id, as the table holds them (created empty): a watch
        added through the table is in it. Read only: add and remove through the table."""
        found = self._devices.get(device_id)
        if found is None:
            found = self._devices[device_id] = {}
        return found

    def __getitem__(self, key: tuple[UUID, UUID]) -> Watch:
        return self._devices[key[1]][key[0]]

    def get(self, key: tuple[UUID, UUID], default: Any = None) -> Any:
        found = self._devices.get(key[1])
        return default if found is None else found.get(key[0], default)

    def __setitem__(self, key: tuple[UUID, UUID], watch: Watch) -> None:
        rules = self._devices.get(key[1])
        if rules is None:
            rules = self._devices[key[1]] = {}
        if key[0] not in rules:
            self._count += 1
        rules[key[0]] = watch

    def __delitem__(self, key: tuple[UUID, UUID]) -> None:
        rules = self._devices[key[1]]
        del rules[key[0]]
        self._count -= 1
        if not rules:
            del self._devices[key[1]]

    def __iter__(self) -> Iterator[tuple[UUID, UUID]]:
        for device_id, rules in list(self._devices.items()):
            for rule_id in list(rules):
                yield rule_id, device_id

    def __len__(self) -> int:
        return self._count

    def values(self) -> ValuesView[Watch]:
        return _Values(self, self._devices)


class _Values(ValuesView[Watch]):
    """The watches, without a key tuple made per pair."""

    def __init__(self, table: WatchTable, devices: dict[UUID, dict[UUID, Watch]]) -> None:
        super().__init__(table)
        self._devices = devices

    def __iter__(self) -> Iterator[Watch]:
        for rules in list(self._devices.values()):
            yield from list(rules.values())
