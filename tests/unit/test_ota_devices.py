"""What the OTA orchestrator and the alerting manager keep per registered device is shared
where devices are alike (`write_side.interned`), and the OTA health gate's windows are made at
the first alert or sample only."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime

import pytest

from projections.ota_devices import SAMPLES_PER_DEVICE, DeviceFacts
from write_side import interned
from write_side.alerting_watch import DeviceFacts as AlertingFacts
from write_side.interned import tag_set

PAYLOAD = {"device_type": "pump", "tags": ["north", "a"], "name": "p1"}


def test_alike_devices_share_their_tenant_type_and_tags() -> None:
    one = DeviceFacts.of_registered("".join(["ac", "me"]), PAYLOAD)
    other = DeviceFacts.of_registered("".join(["acm", "e"]), dict(PAYLOAD, tags=["a", "north"]))
    assert one.tenant_id is other.tenant_id
    assert one.device_type is other.device_type
    assert one.tags is other.tags == frozenset({"a", "north"})
    assert one.metadata is other.metadata == {}
    watched = AlertingFacts(uuid.uuid4(), "".join(["ac", "me"]), "".join(["pu", "mp"]), one.tags)
    assert watched.tenant_id is one.tenant_id
    assert watched.device_type is one.device_type
    assert AlertingFacts(uuid.uuid4(), "acme", "pump", frozenset(["north", "a"])).tags is one.tags
    assert not hasattr(one, "__dict__")


def test_the_health_windows_are_made_at_the_first_alert_or_sample() -> None:
    facts = DeviceFacts.of_registered("acme", {"device_type": "pump", "metadata": {"zone": "x"}})
    assert facts.metadata == {"zone": "x"}
    assert list(facts.alerts) == list(facts.samples) == []
    at = datetime(2026, 12, 8, tzinfo=UTC)
    for i in range(SAMPLES_PER_DEVICE + 1):
        facts.note_alert(at)
        facts.note_sample(at, "temperature", float(i))
    assert len(facts.alerts) == len(facts.samples) == SAMPLES_PER_DEVICE
    assert list(facts.samples)[-1] == (at, "temperature", float(SAMPLES_PER_DEVICE))
    assert sys.getsizeof(DeviceFacts.of_registered("acme", PAYLOAD)) < 200


def test_past_the_bound_tag_sets_are_kept_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(interned, "_tag_sets", {})
    monkeypatch.setattr(interned, "DISTINCT_TAG_SETS", 2)
    first, second = tag_set(["a"]), tag_set(["b"])
    assert tag_set(["a"]) is first
    assert tag_set(["b"]) is second
    third = tag_set(["c"])
    assert tag_set(["c"]) == third
    assert tag_set(["c"]) is not third  # not shared: the bound was reached
