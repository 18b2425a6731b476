"""The auditors' reads on each store (docs/audit.md 19.1-19.3): the filtered, budgeted feed
scan, a stream's scan, an entity as of a version or a recorded instant, the record of reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from event_store.envelope import EventMetadata
from event_store.feed_scan import FeedFilter, scan_feed, scan_stream
from write_side.application import FleetApplication
from write_side.audit_service import AuditService, NotYetCreated
from write_side.commands import RegisterDevice, UpdateDevice
from write_side.credentials import IssueDeviceCredential
from write_side.device_service import DeviceService
from write_side.devices import Device
from write_side.entity_kinds import EntityKind, select_kinds
from write_side.errors import NotFound

ALICE = EventMetadata(tenant_id="acme", actor="user:alice")
BOB = EventMetadata(tenant_id="acme", actor="user:bob")
EVE = EventMetadata(tenant_id="globex", actor="user:eve")


def test_history_filters_budget_as_of_and_the_record_of_reads(app: FleetApplication) -> None:
    devices = DeviceService(app)
    before = datetime.now(UTC)
    first = devices.register(RegisterDevice(name="a", device_type="pump"), ALICE).aggregate
    for i in range(6):  # noise: another tenant's, and the other actor's renames
        devices.register(RegisterDevice(name=f"g{i}", device_type="pump"), EVE)
    devices.update(UpdateDevice(device_id=first.id, name="b"), BOB)
    middle = datetime.now(UTC)
    devices.issue_credential(IssueDeviceCredential(device_id=first.id), ALICE)
    devices.update(UpdateDevice(device_id=first.id, name="c"), BOB)
    recorder, mapper = app.recorder, app.envelope_mapper

    # Filters: kind (through the aggregates' topics), actor, time range.
    credentials = FeedFilter("acme", topic=select_kinds([EntityKind.CREDENTIAL]))
    found = scan_feed(recorder, mapper, credentials, after=0, first=10)
    assert [e.type for e in found.events] == ["Device.CredentialIssued"]
    assert (found.scanned, found.next_after, found.exhausted) == (10, None, False)
    bobs = scan_feed(recorder, mapper, FeedFilter("acme", actor="user:bob"), after=0, first=10)
    assert [e.payload["name"] for e in bobs.events] == ["b", "c"]
    early = FeedFilter("acme", since=before, until=middle)
    assert [e.version for e in scan_feed(recorder, mapper, early, after=0, first=10).events] == [
        1,
        2,
    ]

    # The budget: 4 items read, 1 match of the 2 asked for; the next page continues after them.
    page = scan_feed(recorder, mapper, FeedFilter("acme"), after=0, first=2, budget=4)
    assert (len(page.events), page.scanned, page.next_after, page.exhausted) == (1, 4, 4, True)
    rest = scan_feed(recorder, mapper, FeedFilter("acme"), after=4, first=2, budget=100)
    assert [e.version for e in rest.events] == [2, 3]
    assert rest.next_after == rest.events[-1].position  # a third match waits
    stream = scan_stream(recorder, mapper, first.id, FeedFilter("acme"), after=1, first=2)
    assert [e.version for e in stream.events] == [2, 3]
    assert stream.next_after == 3

    # As of a version and of a recorded instant; before it existed; another tenant's.
    audit = AuditService(app)
    as_of = audit.as_of(EntityKind.DEVICE, "acme", first.id, version=2)
    assert isinstance(as_of.aggregate, Device)
    assert as_of.aggregate.name == "b"
    assert (as_of.version, as_of.latest_version) == (2, 4)
    at_middle = audit.as_of(EntityKind.CREDENTIAL, "acme", first.id, at=middle)
    assert at_middle.version == 2
    assert at_middle.aggregate.credential_id is None
    with pytest.raises(NotYetCreated, match="did not exist"):
        audit.as_of(EntityKind.DEVICE, "acme", first.id, at=before - timedelta(seconds=1))
    with pytest.raises(NotFound):
        audit.as_of(EntityKind.DEVICE, "globex", first.id, version=1)
    with pytest.raises(NotFound):
        audit.as_of(EntityKind.RULE, "acme", first.id, version=1)

    # A read is recorded as an event of the reader, and the history of reads shows it.
    audit.record_read(ALICE, "events", {"kinds": ["credential"]}, 1)
    reads = FeedFilter("acme", topic=select_kinds([EntityKind.AUDIT]))
    (read,) = scan_feed(recorder, mapper, reads, after=0, first=10).events
    assert (read.type, read.actor) == ("TrailRead.Recorded", "user:alice")
    assert read.payload["criteria"] == {"kinds": ["credential"]}
