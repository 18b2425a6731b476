"""The dashboard projection (docs/analytics.md 20.1): folds Device, Telemetry and Alert events
into per-device and per-alert facts and the tenant's figures (read model `dashboard`).

The figures are counters moved by deltas, which are not idempotent, so each commit moves the
checkpoint with a compare-and-set from the position it continues from (`DashboardCommit.after`)
in the same transaction as its rows and deltas: a commit lands exactly once, and a worker that
finds the checkpoint elsewhere resumes from it. A batch whose writes do not fit one transaction
(`DashboardView.max_writes`: DynamoDB) is committed as several, each with the checkpoint of its
last event; deltas are summed per figure within a commit, so a thousand telemetry batches of one
minute are one `ADD` on one item.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.envelope import EventEnvelope
from event_store.tracking import AlreadyTracked
from projections.dashboard_evolve import (
    alert_keys,
    bump,
    device_keys,
    durations,
    evolve_alert,
    evolve_connectivity,
    evolve_device,
    ingested,
    moved,
)
from read_side.dashboard import keys
from read_side.dashboard.port import CheckpointMoved, DashboardReader, DashboardView
from read_side.dashboard.row import AlertFacts, DashboardCommit, DeviceFacts, Top
from read_side.notifications import ChangeNotice
from write_side.alerts import ALERT_ACKNOWLEDGED, ALERT_ESCALATED, ALERT_RAISED, ALERT_RESOLVED
from write_side.devices import DEVICE_DECOMMISSIONED, DEVICE_REGISTERED, DEVICE_UPDATED
from write_side.event_names import topics, types
from write_side.telemetry_log import (
    TELEMETRY_BATCH_RECORDED,
    TELEMETRY_DEVICE_CAME_ONLINE,
    TELEMETRY_DEVICE_WENT_OFFLINE,
)
from write_side.uuids import parse_uuid

_DEVICE = (DEVICE_REGISTERED, DEVICE_UPDATED, DEVICE_DECOMMISSIONED)
_TELEMETRY = (TELEMETRY_BATCH_RECORDED, TELEMETRY_DEVICE_CAME_ONLINE, TELEMETRY_DEVICE_WENT_OFFLINE)
_ALERT = (ALERT_RAISED, ALERT_ACKNOWLEDGED, ALERT_RESOLVED, ALERT_ESCALATED)
DASHBOARD_TOPICS = topics((*_DEVICE, *_TELEMETRY, *_ALERT))
_DEVICE_TYPES, _TELEMETRY_TYPES = types(_DEVICE), types(_TELEMETRY)
_ALERT_TYPES = types(_ALERT)
MARGIN = 16  # the most writes one event adds to a commit (a device row, 6 counters, 4 noisy)


@dataclass
class _Pending:
    """What the events folded since the last commit change."""

    devices: dict[tuple[str, UUID], DeviceFacts] = field(default_factory=dict)
    alerts: dict[tuple[str, UUID], AlertFacts] = field(default_factory=dict)
    deltas: defaultdict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    tops: dict[tuple[str, str], Top] = field(default_factory=dict)

    @property
    def writes(self) -> int:
        return len(self.devices) + len(self.alerts) + len(self.deltas) + len(self.tops)

    def add(self, tenant: str, deltas: dict[str, float]) -> None:
        for key, delta in deltas.items():
            self.deltas[(tenant, key)] += delta

    def commit(self, tracking: Tracking, after: int | None) -> DashboardCommit:
        return DashboardCommit(
            tracking=tracking,
            after=after,
            devices=tuple(self.devices.values()),
            alerts=tuple(self.alerts.values()),
            deltas={key: delta for key, delta in self.deltas.items() if delta},
            tops=dict(self.tops),
        )


class DashboardProjection:
    name = "dashboard"

    def __init__(self, view: DashboardView, reader: DashboardReader) -> None:
        self.view = view
        self.reader = reader
        self.topics = tuple(sorted(DASHBOARD_TOPICS))

    def handles(self, topic: str) -> bool:
        return topic in DASHBOARD_TOPICS

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        return self.process_batch([envelope], tracking)

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        """Fold the batch and commit it (in several commits when the view needs it)."""
        name, last = tracking.application_name, tracking.notification_id
        after = self.view.max_tracking_id(name)
        first = envelopes[0].position if envelopes and envelopes[0].position else last
        if after is not None and after >= last:
            raise AlreadyTracked(f"{name}: {after} is recorded")
        if after is not None and after >= first:
            raise CheckpointMoved(f"{name}: checkpoint {after} inside the batch from {first}")
        state = _State(self.reader, envelopes)
        pending, limit = _Pending(), self.view.max_writes
        for envelope in envelopes:
            state.apply(envelope, pending)
            position = envelope.position or last
            if limit is not None and pending.writes > limit - MARGIN and position < last:
                self.view.commit(pending.commit(Tracking(name, position), after))
                after, pending = position, _Pending()
        if pending.writes:
            self.view.commit(pending.commit(tracking, after))
        return []


class _State:
    """The facts, noisy counts and top-N lists a batch touches, read once per tenant up front,
    then kept current in memory across the batch's commits."""

    def __init__(self, reader: DashboardReader, envelopes: Sequence[EventEnvelope]) -> None:
        wanted_devices: dict[str, set[UUID]] = defaultdict(set)
        wanted_alerts: dict[str, set[UUID]] = defaultdict(set)
        wanted_figures: dict[str, set[str]] = defaultdict(set)
        for e in envelopes:
            if e.type in _DEVICE_TYPES:
                wanted_devices[e.tenant_id].add(UUID(e.stream_id))
            elif e.type in _TELEMETRY_TYPES:
                wanted_devices[e.tenant_id].add(parse_uuid(str(e.payload["device_id"])))
            elif e.type in _ALERT_TYPES:
                wanted_alerts[e.tenant_id].add(UUID(e.stream_id))
                if e.type == ALERT_RAISED.type:
                    wanted_figures[e.tenant_id].update(_noise_keys(e))
        self.devices = {
            (t, d): row for t, ids in wanted_devices.items()
            for d, row in reader.devices(t, sorted(ids)).items()
        }  # fmt: skip
        self.alerts = {
            (t, a): row for t, ids in wanted_alerts.items()
            for a, row in reader.alerts(t, sorted(ids)).items()
        }  # fmt: skip
        self.counts: dict[tuple[str, str], float] = {}
        self.tops: dict[tuple[str, str], Top] = {}
        for t, wanted in wanted_figures.items():
            self.counts.update(((t, k), v) for k, v in reader.counts(t, sorted(wanted)).items())
            self.tops.update(((t, k), v) for k, v in reader.tops(t, sorted(wanted)).items())

    def apply(self, e: EventEnvelope, pending: _Pending) -> None:
        tenant = e.tenant_id
        if e.type in _ALERT_TYPES:
            self._alert(e, pending)
            return
        if e.type == TELEMETRY_BATCH_RECORDED.type:
            pending.add(tenant, ingested(e))
        device_id = (
            UUID(e.stream_id)
            if e.type in _DEVICE_TYPES
            else parse_uuid(str(e.payload["device_id"]))
        )
        key = (tenant, device_id)
        old = self.devices.get(key)
        if e.type in _DEVICE_TYPES:
            new = evolve_device(old, e)
        else:
            new = None if old is None else evolve_connectivity(old, e)
        if new is not None:
            self.devices[key] = pending.devices[key] = new
            pending.add(tenant, moved(device_keys(old), device_keys(new)))

    def _alert(self, e: EventEnvelope, pending: _Pending) -> None:
        tenant, key = e.tenant_id, (e.tenant_id, UUID(e.stream_id))
        old = self.alerts.get(key)
        new = evolve_alert(old, e)
        if new is None:
            return
        self.alerts[key] = pending.alerts[key] = new
        pending.add(tenant, moved(alert_keys(old), alert_keys(new)))
        if old is not None:
            pending.add(tenant, durations(old, new, e.occurred_at))
            return
        week = keys.week_of(e.occurred_at)
        for kind, entity in (("device", new.device_id), ("rule", new.rule_id)):
            noisy = (tenant, keys.noisy(week, kind, entity))
            count = self.counts[noisy] = self.counts.get(noisy, 0.0) + 1
            pending.deltas[noisy] += 1
            top = (tenant, keys.top(week, kind))
            ranked = bump(self.tops.get(top, ()), entity, round(count))
            if ranked != self.tops.get(top, ()):
                self.tops[top] = pending.tops[top] = ranked


def _noise_keys(e: EventEnvelope) -> list[str]:
    week = keys.week_of(e.occurred_at)
    device = str(parse_uuid(str(e.payload["device_id"])))
    rule = str(e.payload["rule_id"])
    return [
        keys.noisy(week, "device", device),
        keys.noisy(week, "rule", rule),
        keys.top(week, "device"),
        keys.top(week, "rule"),
    ]
