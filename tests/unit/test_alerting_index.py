"""The alerting process manager's index: a batch meets only the rules that can decide about it."""

from __future__ import annotations

import uuid
from typing import Any

from projections.alerting_index import RuleIndex
from write_side.alert_rules import AlertRule, RuleVersion, parse_rule_definition
from write_side.alerting_policy import DeviceFacts

PUMP = DeviceFacts(uuid.uuid4(), "acme", "pump", frozenset({"north"}))
VALVE = DeviceFacts(uuid.uuid4(), "acme", "valve", frozenset())


def rule(
    metric: str | None, tenant: str = "acme", kind: str = "threshold", **extra: Any
) -> RuleVersion:
    condition: dict[str, Any] = {"kind": kind, "metric": metric}
    if kind == "absence":
        condition["seconds"] = 60
    else:
        condition |= {"op": ">", "value": 80}
    data = {"name": "r", "scope": {"device_type": "pump"}, "severity": "warning"} | extra
    return AlertRule.create(
        tenant, parse_rule_definition(data | {"condition": condition})
    ).current()


def ids(rules: list[RuleVersion]) -> set[uuid.UUID]:
    return {r.rule_id for r in rules}


def test_a_batch_meets_the_rules_of_its_metrics_and_every_absence_rule() -> None:
    temp, pressure, silent = rule("temp"), rule("pressure"), rule(None, kind="absence")
    other_tenant, disabled = rule("temp", tenant="globex"), rule("temp", enabled=False)
    valves = rule("temp", scope={"device_type": "valve"})
    by_tag = rule("temp", scope={"tag": "north"})
    index = RuleIndex()
    for r in (temp, pressure, silent, other_tenant, disabled, valves, by_tag):
        index.put_rule(r)
    index.put_device(PUMP)
    assert ids(index.rules_for(PUMP, {"temp"})) == ids([temp, silent, by_tag])
    assert ids(index.rules_for(PUMP, ["pressure", "pressure"])) == ids([pressure, silent])
    assert ids(index.rules_for(PUMP, [])) == ids([silent])
    assert ids(index.absence_rules(PUMP)) == ids([silent])
    assert ids(index.rules_for(VALVE, {"temp"})) == ids([valves])


def test_rule_changes_are_seen_by_the_next_batch() -> None:
    index = RuleIndex()
    index.put_device(PUMP)
    assert index.rules_for(PUMP, {"temp"}) == []
    temp = rule("temp")
    index.put_rule(temp)
    assert ids(index.rules_for(PUMP, {"temp"})) == {temp.rule_id}
    assert index.remove_rule(temp.rule_id) == temp
    assert index.rules_for(PUMP, {"temp"}) == []
    assert index.remove_rule(temp.rule_id) is None


def test_after_a_device_changes_its_next_batch_meets_all_its_tenants_rules_once() -> None:
    temp, valves = rule("temp"), rule("temp", scope={"device_type": "valve"})
    index = RuleIndex()
    for r in (temp, valves):
        index.put_rule(r)
    index.put_device(PUMP)
    index.put_device(PUMP)  # unchanged: no rescope
    assert ids(index.rules_for(PUMP, {"temp"})) == {temp.rule_id}
    moved = DeviceFacts(PUMP.device_id, "acme", "valve", frozenset())
    index.put_device(moved)
    assert ids(index.rules_for(moved, {"other"})) == {temp.rule_id, valves.rule_id}
    assert ids(index.rules_for(moved, {"temp"})) == {valves.rule_id}
    assert index.devices_of("acme") == [moved]
    index.remove_device(moved.device_id)
    assert index.devices_of("acme") == []


def test_devices_in_the_scope_of_the_same_rules_share_one_plan() -> None:
    pumps = [DeviceFacts(uuid.uuid4(), "acme", "pump", frozenset({"north"})) for _ in range(3)]
    temp, north = rule("temp"), rule("temp", scope={"tag": "north"})
    index = RuleIndex()
    for r in (temp, north):
        index.put_rule(r)
    for device in [*pumps, VALVE]:
        index.put_device(device)
    assert all(ids(index.rules_for(p, {"temp"})) == {temp.rule_id, north.rule_id} for p in pumps)
    assert len({id(index._plans[p.device_id]) for p in pumps}) == 1
    assert ids(index.rules_for(VALVE, {"temp"})) == set()  # another scope: its own plan
    assert index._plans[VALVE.device_id] is not index._plans[pumps[0].device_id]

    later = rule("temp")  # a new rule: every plan of the tenant is made again
    index.put_rule(later)
    assert later.rule_id in ids(index.rules_for(pumps[0], {"temp"}))
    assert len(index._shared) == 1  # the older plans are not kept for sharing
