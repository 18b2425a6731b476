"""`WatchTable`: the alerting policy's watches by (rule id, device id), held per device, with a
device's quiet pairs kept without a watch each (`write_side.alerting_lanes`). No I/O.

A pair is *explicit* (a `Watch` in the device's dict, `of_device`) or *implicit* (a rule of the
device's `QuietPairs` plan with no watch and not excluded: its watch would have no open alert,
the plan's rule, the plan's device facts, its lane's state and its episode count: 0, or what
`QuietPairs.episodes` keeps for a pair that fired before). Reading the table
(`get`, `[]`, `values`, `items`) gives an implicit pair's watch made for the occasion: change a
watch only after `pin`, which makes it explicit. `compact` turns explicit pairs that are as an
implicit one would be back into implicit ones.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, ValuesView
from typing import Any
from uuid import UUID

from write_side.alert_rules import RuleVersion
from write_side.alerting_lanes import LanePlan, QuietPairs
from write_side.alerting_watch import DeviceFacts, Watch
from write_side.rule_evaluation import is_quiet

_NOTHING: Any = object()


class WatchTable(MutableMapping[tuple[UUID, UUID], Watch]):
    """The policy's watches by (rule id, device id), held per device then per rule.

    Nested rather than one dict keyed by (rule, device) tuples: no tuple per pair (72 bytes),
    and a device's own dict is the lookup `handle_readings` makes per rule. Ten million pairs at
    100,000 devices x 100 rules (issue 14), most of them implicit."""

    def __init__(self) -> None:
        self._devices: dict[UUID, dict[UUID, Watch]] = {}
        self._quiet: dict[UUID, QuietPairs] = {}
        self._count = 0  # explicit and implicit pairs

    def of_device(self, device_id: UUID) -> dict[UUID, Watch]:
        """The device's explicit watches by rule id, as the table holds them (created empty): a
        watch added through the table is in it. Read only: add and remove through the table."""
        found = self._devices.get(device_id)
        if found is None:
            found = self._devices[device_id] = {}
        return found

    def quiet_of(self, device_id: UUID) -> QuietPairs | None:
        return self._quiet.get(device_id)

    def __getitem__(self, key: tuple[UUID, UUID]) -> Watch:
        found = self.get(key, _NOTHING)
        if found is _NOTHING:
            raise KeyError(key)
        return found  # type: ignore[no-any-return]

    def get(self, key: tuple[UUID, UUID], default: Any = None) -> Any:
        rule_id, device_id = key
        known = self._devices.get(device_id, {})
        watch = known.get(rule_id)
        if watch is not None:
            return watch
        quiet = self._quiet.get(device_id)
        found = None if quiet is None else quiet.implicit(rule_id, known)
        if quiet is None or found is None:
            return default
        return _implicit(quiet, found[1], found[0])

    def __setitem__(self, key: tuple[UUID, UUID], watch: Watch) -> None:
        rule_id, device_id = key
        if key not in self:
            self._count += 1
        quiet = self._quiet.get(device_id)
        if quiet is not None:
            quiet.watched(rule_id)
        self.of_device(device_id)[rule_id] = watch

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, tuple) or len(key) != 2:
            return False
        rule_id, device_id = key
        known = self._devices.get(device_id, {})
        quiet = self._quiet.get(device_id)
        return rule_id in known or bool(quiet and quiet.implicit(rule_id, known))

    def is_implicit(self, key: tuple[UUID, UUID]) -> bool:
        rule_id, device_id = key
        quiet = self._quiet.get(device_id)
        return bool(quiet and quiet.implicit(rule_id, self._devices.get(device_id, {})))

    def __delitem__(self, key: tuple[UUID, UUID]) -> None:
        if key not in self:
            raise KeyError(key)
        rule_id, device_id = key
        known = self._devices.get(device_id, {})
        known.pop(rule_id, None)
        quiet = self._quiet.get(device_id)
        if quiet is not None and rule_id in quiet.plan.lane_of:
            quiet.excluded = quiet.excluded | {rule_id}  # not implicit now it has no watch
            quiet.by_lane = None
            if quiet.episodes:
                quiet.episodes.pop(rule_id, None)
        self._count -= 1
        self._forget_if_empty(device_id)

    def __iter__(self) -> Iterator[tuple[UUID, UUID]]:
        for watches in self.per_device():
            for watch in watches:
                yield watch.rule_id, watch.device.device_id

    def per_device(self) -> Iterator[list[Watch]]:
        """Each device's watches (explicit, then implicit ones made for the reader), the
        devices in the order they were first given a watch."""
        for device_id, known in list(self._devices.items()):
            watches = list(known.values())
            quiet = self._quiet.get(device_id)
            if quiet is not None:
                watches += [_implicit(quiet, rule, n) for rule, n in quiet.pairs(known)]
            yield watches

    def __len__(self) -> int:
        return self._count

    def values(self) -> ValuesView[Watch]:
        """The watches, an implicit pair's made for the reader."""
        return _Values(self)

    def pin(self, rule_id: UUID, device_id: UUID) -> Watch | None:
        """The implicit pair's watch, made explicit (None: the pair is not implicit)."""
        quiet = self._quiet.get(device_id)
        if quiet is None:
            return None
        known = self.of_device(device_id)
        found = quiet.implicit(rule_id, known)
        if found is None:
            return None
        watch = known[rule_id] = _implicit(quiet, found[1], found[0])
        quiet.watched(rule_id)
        return watch

    def pin_device(self, device_id: UUID) -> list[Watch]:
        """Make every implicit pair of the device explicit and drop its plan; the new watches."""
        quiet = self._quiet.pop(device_id, None)
        if quiet is None:
            return []
        known = self.of_device(device_id)
        made = [_implicit(quiet, rule, number) for rule, number in quiet.pairs(known)]
        for watch in made:
            known[watch.rule_id] = watch
        return made

    def pin_rule(self, rule_id: UUID) -> list[Watch]:
        """Make the rule's implicit pairs explicit (every device's); the new watches."""
        return [
            watch
            for device_id, quiet in list(self._quiet.items())
            if rule_id in quiet.plan.lane_of and (watch := self.pin(rule_id, device_id)) is not None
        ]

    def of_rule(self, rule_id: UUID) -> list[Watch]:
        """The rule's explicit watches."""
        return [known[rule_id] for known in self._devices.values() if rule_id in known]

    def drop_device(self, device_id: UUID) -> list[Watch]:
        """Forget the device's pairs; its explicit watches (implicit ones have no open alert)."""
        known = self._devices.pop(device_id, {})
        quiet = self._quiet.pop(device_id, None)
        implicit = 0 if quiet is None else sum(1 for _ in quiet.pairs(known))
        self._count -= len(known) + implicit
        return list(known.values())

    def drop_rule(self, rule_id: UUID) -> list[Watch]:
        """Forget the rule's pairs; its explicit watches."""
        dropped = []
        for device_id in list(self._devices):
            watch = self._devices[device_id].get(rule_id)
            if (rule_id, device_id) in self:
                del self[rule_id, device_id]
                if watch is not None:
                    dropped.append(watch)
        return dropped

    def compact(
        self, device_id: UUID, key: tuple[RuleVersion, ...], device: DeviceFacts
    ) -> list[Watch]:
        """Let the device's explicit pairs that are as implicit ones would be become implicit
        (its plan: `key`'s, the device's current one kept when it is that); the watches let go.

        Per lane, the quiet pairs join the lane's state: the implicit pairs' one, or when there
        are none, the first quiet watch's. A state equal to it joins too (after a snapshot
        restore the states are equal, not one object). A watch that joins is let go, its episode
        count kept in `QuietPairs.episodes` when it fired before; one with an open alert stays."""
        known = self.of_device(device_id)
        quiet = self._quiet.get(device_id)
        if quiet is not None and (quiet.plan.key != key or quiet.device is not device):
            raise ValueError("pin the device's pairs (`pin_device`) before another plan")
        if quiet is None:
            quiet = QuietPairs(LanePlan.of(key), device)
            quiet.excluded = frozenset(r for r in quiet.plan.lane_of if r not in known)
            self._quiet[device_id] = quiet
        let_go: list[Watch] = []
        for number, lane in enumerate(quiet.plan.lanes):
            let_go += _compact_lane(quiet, number, lane.rules, known)
        if let_go:  # a dict keeps its size when emptied: 4.6 KB per device once it held 100
            self._devices[device_id] = dict(known)
        quiet.by_lane = None
        self._forget_if_empty(device_id)
        return let_go

    def _forget_if_empty(self, device_id: UUID) -> None:
        """Forget a device without pairs, explicit or implicit (a device with a plan stays in
        `_devices`, which keeps the order of devices)."""
        known = self._devices.get(device_id, {})
        quiet = self._quiet.get(device_id)
        if not known and (quiet is None or next(quiet.pairs(known), None) is None):
            self._devices.pop(device_id, None)
            self._quiet.pop(device_id, None)


def _compact_lane(
    quiet: QuietPairs, number: int, rules: list[RuleVersion], known: dict[UUID, Watch]
) -> list[Watch]:
    """`WatchTable.compact` for one lane of the device's plan; the watches let go."""
    excluded, device = quiet.excluded, quiet.device
    has_implicit = any(r.rule_id not in known and r.rule_id not in excluded for r in rules)
    target = quiet.states[number] if has_implicit else _NOTHING
    let_go: list[Watch] = []
    for rule in rules:
        watch = known.get(rule.rule_id)
        if watch is None or not _joins(watch, rule, device, excluded):
            continue
        if target is _NOTHING:
            target = watch.state
        if watch.state is not target and watch.state != target:
            continue
        del known[rule.rule_id]
        let_go.append(watch)
        if watch.episode:
            if quiet.episodes is None:
                quiet.episodes = {}
            quiet.episodes[rule.rule_id] = watch.episode
    if target is not _NOTHING:
        quiet.states[number] = target
    return let_go


def _joins(watch: Watch, rule: RuleVersion, device: DeviceFacts, excluded: frozenset[UUID]) -> bool:
    """Whether the watch may become implicit (the lane's rule and device, quiet, no alert open)."""
    return (
        watch.open_alert is None
        and watch.rule is rule
        and watch.device is device
        and is_quiet(watch.state)
        and rule.rule_id not in excluded
    )


def _implicit(quiet: QuietPairs, rule: RuleVersion, number: int) -> Watch:
    episode = quiet.episodes.get(rule.rule_id, 0) if quiet.episodes else 0
    return Watch(rule.rule_id, quiet.device, rule, quiet.states[number], episode)


class _Values(ValuesView[Watch]):
    """The watches, without a key tuple made per pair."""

    def __init__(self, table: WatchTable) -> None:
        super().__init__(table)
        self._table = table

    def __iter__(self) -> Iterator[Watch]:
        for watches in self._table.per_device():
            yield from watches
