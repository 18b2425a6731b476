"""The orchestrator's durable timers, its job outbox and the port that tells devices of work
(docs/firmware.md section 12.4): the contract between the process manager that decides
(`projections/ota.py`) and the stores and loops that remember and deliver.

**Timers are wake-ups, never decisions.** Every due time is a field of the event that sets it
(`Deployment.Created` plan `start_at`, `DeploymentExecution.Queued.not_before`,
`Notified`/`Advanced.stall_deadline`, `Failed.retry_at`, `Deployment.SoakStarted.until`); a
`Timer` row only says "look at this stream again at `due_at`". When it fires, the orchestrator
loads the stream and lets the aggregate and the pure policy decide from the recorded events:
a stream that moved on since the timer was set (`stream_version` is the version of the event
that set it) makes the timer stale, and a timer that fires twice decides nothing the second
time. So rows can be written before or after the events they follow, and a restart neither
loses a timeout (the row is in the store) nor acts twice (the aggregate refuses). A `wake` is a
timer no event sets: the orchestrator's own "come back at T" (a rate-limited or window-closed
notification), keyed by the deployment's stream.

**The outbox** holds one `JobNotice` per message a device must get (`install` or `revert` at
an attempt, or `cancel`): written from the `DeploymentExecution.Notified` / `Canceled` events
with the writer's checkpoint, published by a dispatcher through `DeviceJobs`, then marked sent.
A crash between publish and mark repeats the publish, never the event; devices deduplicate by
(execution id, attempt, operation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from uuid import UUID

from write_side.deployment_states import Channel

TimerKind = Literal["start", "not_before", "stall", "retry", "soak", "wake", "upload_expiry"]
# A presigned upload's deadline (`Firmware.UploadRequested.expires_at` plus the grace): fired to
# the upload sweeper (`ota.upload_expiry`), not the orchestrator.
UPLOAD_EXPIRY: TimerKind = "upload_expiry"
JobOperation = Literal["install", "revert", "cancel"]


@dataclass(frozen=True, order=True)
class Timer:
    """Look at stream `stream_id` again at `due_at` (UTC, aware)."""

    due_at: datetime
    tenant_id: str
    stream_id: UUID
    stream_version: int  # the version of the event that set it; 0 for a `wake`
    kind: TimerKind

    @property
    def key(self) -> str:
        """The row's identity: scheduling the same timer again is a no-op."""
        return f"{self.stream_id}:{self.stream_version}:{self.kind}:{self.due_at.isoformat()}"


class TimerStore(Protocol):
    def schedule(self, timers: Sequence[Timer]) -> None:
        """Add rows; one whose `key` exists already is left as it is."""

    def due(self, now: datetime, limit: int) -> list[Timer]:
        """Rows with `due_at <= now`, earliest first, at most `limit`, across tenants."""

    def done(self, timers: Sequence[Timer]) -> None:
        """Remove fired rows (a row already removed is fine)."""


@dataclass(frozen=True)
class JobNotice:
    """One message a device must get about one of its executions."""

    tenant_id: str
    device_id: UUID
    execution_id: UUID
    attempt: int
    operation: JobOperation
    channel: Channel  # "http": the device polls `GET /devices/{id}/jobs/next`; nothing to send

    @property
    def key(self) -> str:
        return f"{self.execution_id}:{self.attempt}:{self.operation}"


class JobOutbox(Protocol):
    def add(self, notices: Sequence[JobNotice]) -> None:
        """Add notices; one whose `key` exists already is left as it is (sent or not)."""

    def pending(self, limit: int) -> list[JobNotice]:
        """Notices not yet marked sent, oldest first, at most `limit`."""

    def mark_sent(self, notices: Sequence[JobNotice]) -> None: ...


class DeviceJobs(Protocol):
    """Tells one device of a job (MQTT `devices/{id}/jobs/notify`, QoS 1): the document of
    docs/firmware.md section 12.5. Raises on a failed delivery, so the notice stays pending."""

    def publish(self, tenant_id: str, device_id: UUID, document: Mapping[str, object]) -> None: ...
