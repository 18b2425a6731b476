"""The pure core of the alerting process manager: telemetry in, alert commands out.

Per (rule, device) it keeps the evaluation state, the episode number and the open alert (a
`Watch`, or for a quiet pair its lane's state: `write_side.alerting_lanes`), so there is at most
one open alert per pair; a recurrence gets the next episode (and so a
new deterministic alert id). Readings of a message id seen recently for the device are skipped.
Past that window, a redelivery comes back marked late by its stream: `write_side.alerting_late`.
No I/O: the caller persists what the commands say and feeds back what others did (`note_*`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from write_side.alert_rules import Absence, ForDuration, RuleVersion
from write_side.alerting_lanes import advanced_already
from write_side.alerting_late import RecentIds, fresh_entries
from write_side.alerting_table import WatchTable
from write_side.alerting_watch import (
    AlertCommand,
    AutoResolve,
    DeviceFacts,
    OpenAlert,
    RecordRepeat,
    Watch,
    applies,
    open_next,
    semantics,
)
from write_side.rule_compiled import (
    Decision,
    EvaluationState,
    Prepared,
    Raise,
    Repeat,
    Series,
    prepare,
)
from write_side.rule_evaluation import evaluate_series, is_quiet, tick
from write_side.telemetry import TelemetryBatch

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
    # keeps on the rule; a retired watch has no rule) and `watch.device is device`. A device's
    # quiet pairs are held without a watch each (implicit, `alerting_lanes.QuietPairs`).
    watches: WatchTable = field(default_factory=WatchTable)
    _by_alert: dict[UUID, Watch] = field(default_factory=dict)
    # The explicit watches `handle_tick` visits: those whose rule is time-based (absence,
    # for-duration; an implicit pair is quiet, so a tick would leave it as it is). A tick used
    # to walk every watch: a million watches walked once a second for nothing (issue 14).
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
        fresh = fresh_entries(self.recent, self.watches, rules, batch, late)
        readings = [r for e in fresh for r in e.readings]
        newest = max((r.at for r in readings), default=None)
        commands: list[AlertCommand] = []
        series: dict[str | None, Series] = {}  # the readings of each metric, sorted once
        known = self.watches.of_device(device_id)
        key = tuple(rules)  # compared by identity first, element by element
        quiet = self.watches.quiet_of(device_id) if self.shortcuts else None
        if quiet is not None and quiet.plan.key == key and quiet.device is device:
            remaining = quiet.run(known, readings, series)
        else:
            self._pin_device(device_id)
            quiet, remaining = None, list(range(len(rules)))
        unsettled = False  # whether a watch may now join its lane (`_compact`)
        for index in remaining:
            rule = rules[index]
            watch = known.get(rule.rule_id)
            if watch is None and quiet is not None:
                watch = self._pin(rule.rule_id, device_id)  # an implicit pair's
            if watch is None or watch.rule is not rule or watch.device is not device:
                watch = self._adopt(rule, device, watch, newest, commands)
                if watch is None:
                    continue
            # Else this very rule and device were adopted by this (live) watch after `applies`
            # held, and both are frozen: nothing to check or sync.
            prepared = prepare(rule)
            mine = series.get(prepared.metric)
            if mine is None:
                mine = series[prepared.metric] = Series(readings, prepared.metric)
            commands += self._evaluate(watch, rule, prepared, mine)
            if quiet is not None and not unsettled and is_quiet(watch.state):
                unsettled = rule.rule_id in quiet.plan.lane_of
        if self.shortcuts and (quiet is None or unsettled):
            self._compact(device_id, key, device)
        return commands

    def _evaluate(
        self, watch: Watch, rule: RuleVersion, prepared: Prepared, series: Series
    ) -> list[AlertCommand]:
        shared = advanced_already(prepared, watch.state, series) if self.shortcuts else None
        if shared is not None:
            watch.state = shared
            return []
        state, decisions = evaluate_series(prepared, watch.state, series)
        if decisions:
            return self._apply(watch, rule, state, decisions)
        watch.state = state
        return []

    def _pin(self, rule_id: UUID, device_id: UUID) -> Watch | None:
        """The implicit pair's watch, made explicit (None: not an implicit pair)."""
        watch = self.watches.pin(rule_id, device_id)
        if watch is not None:
            self._time(watch)
        return watch

    def _pin_device(self, device_id: UUID) -> None:
        for watch in self.watches.pin_device(device_id):
            self._time(watch)

    def _compact(self, device_id: UUID, key: tuple[RuleVersion, ...], device: DeviceFacts) -> None:
        for watch in self.watches.compact(device_id, key, device):
            self._timed.pop((watch.rule_id, device_id), None)

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
        if not applies(rule, device):
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
        policy: their states, episodes and open alerts as they were. The quiet ones are held
        as implicit pairs at once (a device's first batch then plans its rules anew)."""
        devices: dict[UUID, DeviceFacts] = {}
        for watch in watches:
            device_id = watch.device.device_id
            if device_id not in devices:
                devices[device_id] = watch.device
                self._pin_device(device_id)
            self.watches[watch.rule_id, device_id] = watch
            if watch.open_alert is not None:
                self._by_alert[watch.open_alert] = watch
            self._time(watch)
        if not self.shortcuts:
            return
        for device_id, device in devices.items():
            known = self.watches.of_device(device_id)
            self._compact(device_id, tuple(w.rule for w in known.values() if w.rule), device)

    def handle_rule_revised(self, rule: RuleVersion, at: datetime) -> list[AlertCommand]:
        """Adopt the revision; resolve the open alerts of devices it no longer applies to."""
        commands: list[AlertCommand] = []
        for pinned in self.watches.pin_rule(rule.rule_id):
            self._time(pinned)
        for watch in self.watches.of_rule(rule.rule_id):
            if applies(rule, watch.device):
                self._sync(watch, rule, watch.device)
            else:
                commands += self._retire(watch, at, "the rule no longer applies")
        return commands

    def handle_rule_deleted(self, rule_id: UUID, at: datetime) -> list[AlertCommand]:
        return self._drop(self.watches.drop_rule(rule_id), at, "the rule was deleted")

    def handle_device_removed(self, device_id: UUID, at: datetime) -> list[AlertCommand]:
        """A decommissioned device: resolve its open alerts and forget it."""
        self.recent.forget(device_id)
        return self._drop(self.watches.drop_device(device_id), at, "the device was removed")

    def open_watches(self) -> list[Watch]:
        """The watches with an open alert."""
        return [w for a, w in self._by_alert.items() if w.open_alert == a]

    def watch_of_alert(self, alert: UUID) -> Watch | None:
        """The watch whose open alert `alert` is."""
        watch = self._by_alert.get(alert)
        return watch if watch is not None and watch.open_alert == alert else None

    def note_opened(self, rule_id: UUID, device: DeviceFacts, episode: int, alert: UUID) -> None:
        """An `Alert.Raised` (to rebuild after a restart; echoes of our own opens are ignored)."""
        key = (rule_id, device.device_id)
        watch = self._pin(*key) or self.watches.get(key) or self._watch(rule_id, device)
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
        if old and state and old.revision != rule.revision and semantics(old) != semantics(rule):
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
                commands.append(opened := open_next(watch, rule, d.value, d.at))
                self._by_alert[opened.alert_id] = watch
            elif isinstance(d, Raise | Repeat):
                if d.value is not None and watch.open_alert is not None:
                    commands.append(RecordRepeat(watch.open_alert, d.value, d.at))
            elif watch.open_alert is not None:
                commands.append(AutoResolve(watch.open_alert, d.value, d.at))
                self.note_resolved(watch.open_alert)
        return commands

    def _drop(self, dropped: list[Watch], at: datetime, note: str) -> list[AlertCommand]:
        """Retire watches the table no longer holds (implicit pairs had no open alert)."""
        commands: list[AlertCommand] = []
        for watch in dropped:
            commands += self._retire(watch, at, note)
        return commands

    def _retire(self, watch: Watch, at: datetime, note: str) -> list[AlertCommand]:
        """Stop evaluating the pair (its episode count stays); resolve its open alert."""
        opened, watch.state, watch.rule = watch.open_alert, None, None
        self._timed.pop((watch.rule_id, watch.device.device_id), None)
        if opened is None:
            return []
        self.note_resolved(opened)
        return [AutoResolve(opened, None, at, note)]
