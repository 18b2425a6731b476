"""`WatchTable`: the alerting policy's watches by (rule id, device id), held per device."""

from __future__ import annotations

import uuid

from write_side.alerting_table import WatchTable
from write_side.alerting_watch import DeviceFacts, Watch


def test_a_mapping_by_rule_and_device_held_per_device() -> None:
    table = WatchTable()
    devices = [DeviceFacts(uuid.uuid4(), "t1", "pump") for _ in range(2)]
    rules = [uuid.uuid4() for _ in range(3)]
    for device in devices:
        for rule in rules:
            table[rule, device.device_id] = Watch(rule, device)
    first = devices[0].device_id
    table[rules[0], first] = replaced = Watch(rules[0], devices[0])  # replaces, not adds

    assert len(table) == 6
    assert table[rules[0], first] is replaced
    assert table.get((rules[0], uuid.uuid4())) is None
    assert set(table.of_device(first)) == set(rules)
    assert table.of_device(uuid.uuid4()) == {}
    assert set(table) == {(r, d.device_id) for r in rules for d in devices}
    assert sorted(map(id, table.values())) == sorted(id(table[k]) for k in table)

    for rule in rules:
        del table[rule, first]
    assert table.pop((rules[1], devices[1].device_id)).rule_id == rules[1]
    assert len(table) == 2
    assert table.of_device(first) == {}  # a device without watches is forgotten
    assert set(table) == {(rules[0], devices[1].device_id), (rules[2], devices[1].device_id)}
    assert table != {}
    table.clear()
    assert table == {}
