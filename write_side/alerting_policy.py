"""The pure core of the alerting process manager: telemetry in, alert commands out.

Per (rule, device) it keeps a `Watch`: the evaluation state, the episode number and the open
alert, so there is at most one open alert per pair; a recurrence gets the next episode (and so a
new deterministic alert id). Readings of a message id seen recently for the device are skipped.
Past that window, a redelivery comes back marked late by its stream: `write_side.alerting_late`.
No I/O: the caller persists what the commands say and feeds back what others did (`note_*`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from write_side.alert_rules import Absence, ForDuration, RuleVersion
from write_side.alerting_lanes import Lanes, advanced_already
from write_side.alerting_late import RecentIds, unpassed, watermarks
from write_side.alerting_watch import (
    AlertCommand,
    AutoResolve,
    DeviceFacts,
    OpenAlert,
    RecordRepeat,
    Watch,
    WatchTable,
)
from write_side.alerts import alert_id
from write_side.rule_compiled import (
    Decision,
    EvaluationState,
    Raise,
    Repeat,
    Series,
    prepare,
)
from write_side.rule_evaluation import evaluate_series, tick
from write_side.telemetry import BatchEntry, TelemetryBatch

__all__ = [
    "AlertCommand",
    "AlertingPolicy",
    "AutoResolve",
    "DeviceFacts",
    "OpenAlert",
    "RecordRepeat",
    "Watch",
]


@dataclass
class AlertingPolicy:
    recent: RecentIds = field(default_factory=RecentIds)  # per device, to skip redeliveries
    # By (rule id, device id). A device's watch of a rule is used as it is only while
    # `watch.rule is rule` (the very `RuleVersion` object given, whose compiled form `prepare`
    # keeps on the rule; a retired watch has no rule) and `watch.device is device`.
    watches: WatchTable = field(default_factory=WatchTable)
    _by_alert: dict[UUID, Watch] = field(default_factory=dict)
    # Per device: its quiet threshold rules grouped by metric and side (see `Lanes`).
    _lanes: dict[UUID, Lanes] = field(default_factory=dict)
    # The watches `handle_tick` visits: those whose rule is time-based (absence, for-duration).
    # A tick used to walk every watch: 100 threshold rules x 10,000 devices are a million
    # watches walked once a second for nothing (issue 14).
    _timed: dict[tuple[UUID, UUID], Watch] = field(default_factory=dict)
    shortcuts: bool = True  # False: evaluate every rule in full (tests compare the two)

    def handle_readings(
        self,
        rules: Iterable[RuleVersion],
        device: DeviceFacts,
        batch: TelemetryBatch,
        late: frozenset[str] = frozenset(),
    ) -> list[AlertCommand]:
        """`rules`: the tenant's current rules (those not applying to the device are skipped);
        `late`: the ids of the batch's entries its stream marked late (`alerting_late`)."""
        if batch.device_id != device.device_id:
            raise ValueError("the batch is not the device's")
        device_id = device.device_id
        rules = list(rules)
        fresh = self._fresh(rules, device_id, batch, late)
        readings = [r for e in fresh for r in e.readings]
        newest = max((r.at for r in readings), default=None)
        commands: list[AlertCommand] = []
        series: dict[str | None, Series] = {}  # the readings of each metric, sorted once
        known = self.watches.of_device(device_id)
        key = tuple(rules)  # compared by identity first, element by element
        lanes = self._lanes.get(device_id) if self.shortcuts else None
        if lanes is not None and lanes.key == key and lanes.device is device:
            remaining: Iterable[int] = lanes.run(device, readings, series)
        else:
            lanes, remaining = None, range(len(rules))
        for index in remaining:
            rule = rules[index]
            watch = known.get(rule.rule_id)
            if watch is None or watch.rule is not rule or watch.device is not device:
                watch = self._adopt(rule, device, watch, newest, commands)
                if watch is None:
                    continue
            # Else this very rule and device were adopted by this (live) watch after `_applies`
            # held, and both are frozen: nothing to check or sync.
            prepared = prepare(rule)
            mine = series.get(prepared.metric)
            if mine is None:
                mine = series[prepared.metric] = Series(readings, prepared.metric)
            old = watch.state
            shared = advanced_already(prepared, old, mine) if self.shortcuts else None
            if shared is not None:
                watch.state = shared
                continue
            state, decisions = evaluate_series(prepared, old, mine)
            if decisions:
                commands += self._apply(watch, rule, state, decisions)
            else:
                watch.state = state
        if lanes is None and self.shortcuts:
            self._lanes[device_id] = Lanes.build(key, device, rules, known)
        return commands

    def _adopt(
        self,
        rule: RuleVersion,
        device: DeviceFacts,
        found: Watch | None,
        newest: datetime | None,
        commands: list[AlertCommand],
    ) -> Watch | None:
        """The watch of (rule, device) (`found`: the one kept), synced to this rule; None (and
        its open alert resolved) when the rule does not apply to the device."""
        if not _applies(rule, device):
            if found and newest:
                commands += self._retire(found, newest, "the rule no longer applies")
            return None
        watch = found or self._watch(rule.rule_id, device)
        self._sync(watch, rule, device)
        return watch

    def handle_tick(self, now: datetime) -> list[AlertCommand]:
        """Absence and for_duration deadlines; call it every few seconds."""
        commands: list[AlertCommand] = []
        for watch in list(self._timed.values()):
            rule = watch.rule
            if rule:
                commands += self._apply(watch, rule, *tick(rule, watch.state, now))
        return commands

    def restore(self, watches: Iterable[Watch]) -> None:
        """Take the watches of a snapshot (`projections.alerting_snapshot`) into an empty
        policy: their states, episodes and open alerts as they were."""
        for watch in watches:
            self.watches[watch.rule_id, watch.device.device_id] = watch
            if watch.open_alert is not None:
                self._by_alert[watch.open_alert] = watch
            self._time(watch)

    def handle_rule_revised(self, rule: RuleVersion, at: datetime) -> list[AlertCommand]:
        """Adopt the revision; resolve the open alerts of devices it no longer applies to."""
        commands: list[AlertCommand] = []
        self._lanes.clear()
        for watch in [w for w in self.watches.values() if w.rule_id == rule.rule_id]:
            if _applies(rule, watch.device):
                self._sync(watch, rule, watch.device)
            else:
                commands += self._retire(watch, at, "the rule no longer applies")
        return commands

    def handle_rule_deleted(self, rule_id: UUID, at: datetime) -> list[AlertCommand]:
        return self._drop(lambda key: key[0] == rule_id, at, "the rule was deleted")

    def handle_device_removed(self, device_id: UUID, at: datetime) -> list[AlertCommand]:
        """A decommissioned device: resolve its open alerts and forget it."""
        self.recent.forget(device_id)
        return self._drop(lambda key: key[1] == device_id, at, "the device was removed")

    def note_opened(self, rule_id: UUID, device: DeviceFacts, episode: int, alert: UUID) -> None:
        """An `Alert.Raised` (to rebuild after a restart; echoes of our own opens are ignored)."""
        watch = self.watches.get((rule_id, device.device_id)) or self._watch(rule_id, device)
        if episode > watch.episode:
            watch.episode, watch.open_alert = episode, alert
            watch.state = replace(watch.state or EvaluationState(), active=True)
            self._by_alert[alert] = watch

    def note_resolved(self, alert: UUID, *, cleared: bool = False) -> None:
        """An `Alert.Resolved` by someone else (`cleared`: auto, when rebuilding). Unless cleared,
        a condition still met reopens on the next repeat, as the next episode."""
        watch = self._by_alert.pop(alert, None)
        if watch is not None and watch.open_alert == alert:
            watch.open_alert = None
            if cleared and watch.state:
                watch.state = replace(watch.state, active=False)

    def _watch(self, rule_id: UUID, device: DeviceFacts) -> Watch:
        watch = self.watches[rule_id, device.device_id] = Watch(rule_id, device)
        return watch

    def _sync(self, watch: Watch, rule: RuleVersion, device: DeviceFacts) -> None:
        """Adopt a new revision; a changed condition restarts evaluation (keeping `active`)."""
        old, state = watch.rule, watch.state
        if old and state and old.revision != rule.revision and _semantics(old) != _semantics(rule):
            watch.state = EvaluationState(active=state.active, since=state.since)
        watch.rule, watch.device = rule, device
        self._time(watch)

    def _time(self, watch: Watch) -> None:
        """Keep `_timed` true to the watch's rule."""
        key = (watch.rule_id, watch.device.device_id)
        rule = watch.rule
        if rule is not None and isinstance(rule.definition.condition, Absence | ForDuration):
            self._timed[key] = watch
        else:
            self._timed.pop(key, None)

    def _apply(
        self, watch: Watch, rule: RuleVersion, state: EvaluationState, decisions: list[Decision]
    ) -> list[AlertCommand]:
        watch.state = state
        commands: list[AlertCommand] = []
        for d in decisions:
            if isinstance(d, Raise | Repeat) and watch.open_alert is None:
                commands.append(self._open(watch, rule, d.value, d.at))
            elif isinstance(d, Raise | Repeat):
                if d.value is not None and watch.open_alert is not None:
                    commands.append(RecordRepeat(watch.open_alert, d.value, d.at))
            elif watch.open_alert is not None:
                commands.append(AutoResolve(watch.open_alert, d.value, d.at))
                self.note_resolved(watch.open_alert)
        return commands

    def _open(
        self, watch: Watch, rule: RuleVersion, value: float | None, at: datetime
    ) -> OpenAlert:
        device = watch.device
        watch.episode += 1
        watch.open_alert = alert_id(device.tenant_id, rule.rule_id, device.device_id, watch.episode)
        self._by_alert[watch.open_alert] = watch
        raising = rule.definition.raise_comparison
        lowest = raising is not None and raising.op in ("<", "<=")
        return OpenAlert(
            watch.open_alert, device.tenant_id, rule.rule_id, rule.revision, device.device_id,
            watch.episode, rule.definition.severity, value, at, "lowest" if lowest else "highest",
        )  # fmt: skip

    def _drop(
        self, which: Callable[[tuple[UUID, UUID]], bool], at: datetime, note: str
    ) -> list[AlertCommand]:
        commands: list[AlertCommand] = []
        self._lanes.clear()
        for key in [k for k in self.watches if which(k)]:
            self._timed.pop(key, None)
            commands += self._retire(self.watches.pop(key), at, note)
        return commands

    def _retire(self, watch: Watch, at: datetime, note: str) -> list[AlertCommand]:
        """Stop evaluating the pair (its episode count stays); resolve its open alert."""
        opened, watch.state, watch.rule = watch.open_alert, None, None
        self._timed.pop((watch.rule_id, watch.device.device_id), None)
        if opened is None:
            return []
        self.note_resolved(opened)
        return [AutoResolve(opened, None, at, note)]

    def _fresh(
        self,
        rules: list[RuleVersion],
        device_id: UUID,
        batch: TelemetryBatch,
        late: frozenset[str],
    ) -> list[BatchEntry]:
        """The entries not seen recently, late ones without the readings a watch passed."""
        fresh = [e for e in batch.entries if self.recent.first_time(device_id, e.message_id)]
        if not late:
            return fresh
        states = ((r, self.watches.get((r.rule_id, device_id))) for r in rules)
        passed = watermarks((r, w.state) for r, w in states if w is not None)
        return unpassed(fresh, late, passed)


def _applies(rule: RuleVersion, device: DeviceFacts) -> bool:
    d = rule.definition
    return (
        rule.tenant_id == device.tenant_id
        and d.enabled
        and d.matches_scope(device.device_id, device.device_type, device.tags)
    )


def _semantics(rule: RuleVersion) -> tuple[object, ...]:
    return rule.definition.condition, rule.definition.clear_comparison
