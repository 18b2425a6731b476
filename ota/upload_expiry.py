"""The sweeper of unconfirmed uploads (docs/firmware.md section 12.1): it expires a presigned
upload nobody confirmed and deletes its blob.

Found without scanning the event store: the schedule writer turns each
`Firmware.UploadRequested` with an `expires_at` into an `upload_expiry` timer due at that
expiry plus `UPLOAD_GRACE` (`ota.schedule_events`), and the orchestrator's timer loop fires it
here (`fire_timers` routes by kind). For each timer: `ExpireFirmwareUpload` (the release
decides: pending and past its deadline -> `UploadRejected(reason="expired")`; expired already
-> nothing; published meanwhile -> refused, a lost race re-decided), then, only once the
release is REJECTED (for any reason) and the event committed, `BlobStore.delete` of its key
unless another release of the tenant that is not REJECTED has the same SHA-256 (keys are
content-addressed: those bytes are its image too; `SharedBlob`, which the composition root
answers from the firmware read model). A missing blob is fine (`delete` is idempotent), and
a second firing deletes again and records nothing.

What a crashed streamed upload left under `.incoming/` (no release names it) is swept along,
at most once per `INCOMING_SWEEP_EVERY`, when older than `INCOMING_MAX_AGE`
(`BlobStore.sweep_incoming`; on S3 the bucket's lifecycle rule does it too).

Never raises into the timer loop (its other timers are the orchestrator's): a timer fired
before the deadline (another process's clock) is scheduled again at the deadline, and a
failure (the store or the bucket unreachable) is logged and retried `RETRY_AFTER` later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from uuid import UUID

from event_store.envelope import EventMetadata
from ota.port import BlobStore
from ota.schedule import UPLOAD_EXPIRY, Timer, TimerStore
from write_side.deployment_errors import InvalidTransition
from write_side.errors import NotFound
from write_side.firmware import Firmware
from write_side.firmware_commands import ExpireFirmwareUpload
from write_side.firmware_service import FirmwareService
from write_side.firmware_states import FirmwareStatus

log = logging.getLogger(__name__)

ACTOR = "system:upload-expiry"
RETRY_AFTER = timedelta(minutes=1)
INCOMING_MAX_AGE = timedelta(days=1)  # an upload of 5 GiB through the API ends well before
INCOMING_SWEEP_EVERY = timedelta(hours=1)

# Whether another release of the tenant (not `firmware_id`, not REJECTED) has that SHA-256.
SharedBlob = Callable[[str, str, UUID], bool]
Fire = Callable[[Sequence[Timer], datetime], None]


class UploadSweeper:
    def __init__(
        self,
        service: FirmwareService,
        blobs: BlobStore,
        shared: SharedBlob,
        timers: TimerStore,
    ) -> None:
        self.service, self.blobs, self.shared, self.timers = service, blobs, shared, timers
        self.incoming_swept_at: datetime | None = None

    def fire(self, timers: Sequence[Timer], now: datetime) -> None:
        """The due `upload_expiry` timers (others are ignored)."""
        ours = [timer for timer in timers if timer.kind == UPLOAD_EXPIRY]
        for timer in ours:
            try:
                self._sweep(timer)
            except Exception:
                log.exception("upload expiry: firmware %s failed; retrying", timer.stream_id)
                self._again(timer, now + RETRY_AFTER)
        last = self.incoming_swept_at
        if ours and (last is None or now - last >= INCOMING_SWEEP_EVERY):
            self.incoming_swept_at = now
            try:
                removed = self.blobs.sweep_incoming(INCOMING_MAX_AGE.total_seconds())
            except Exception:
                log.exception("upload expiry: the sweep of .incoming/ failed")
            else:
                log.info("upload expiry: %d leftover(s) of .incoming/ removed", removed)

    def sweep(self, tenant_id: str, firmware_id: UUID, causation_id: str | None = None) -> bool:
        """Expire the release if it is due, then delete its blob once it is REJECTED; whether
        its blob was deleted (False: published, still open, shared, or not found)."""
        meta = EventMetadata(tenant_id, ACTOR, causation_id=causation_id)
        command = ExpireFirmwareUpload(firmware_id=firmware_id)
        try:
            saved = self.service.expire_upload(command, meta)
        except NotFound:
            log.warning("upload expiry: no firmware %s of tenant %s", firmware_id, tenant_id)
            return False
        except InvalidTransition:  # published meanwhile, rejected otherwise, or not due yet
            release = self.service.load(tenant_id, firmware_id)
        else:
            release = saved.aggregate
        if release.status is not FirmwareStatus.REJECTED:
            return False
        return self._delete(release)

    def _sweep(self, timer: Timer) -> None:
        causation = f"timer:{timer.key}"
        self.sweep(timer.tenant_id, timer.stream_id, causation)
        release = self.service.load(timer.tenant_id, timer.stream_id)
        deadline = release.upload_deadline(self.service.upload_grace)
        if release.status is FirmwareStatus.PENDING_UPLOAD and deadline is not None:
            self._again(timer, deadline)  # fired early (another clock): look again then

    def _delete(self, release: Firmware) -> bool:
        if self.shared(release.tenant_id, release.sha256, release.id):
            log.info("upload expiry: %s is another release's image; kept", release.object_key)
            return False
        self.blobs.delete(release.object_key)
        log.info("upload expiry: firmware %s %s, blob deleted", release.id, release.status)
        return True

    def _again(self, timer: Timer, due_at: datetime) -> None:
        later = Timer(due_at, timer.tenant_id, timer.stream_id, timer.stream_version, UPLOAD_EXPIRY)
        self.timers.schedule([later])


def fire_timers(*fires: Fire) -> Fire:
    """One `fire` for the timer loop: every due timer to each (each takes its own kinds)."""

    def fire(timers: Sequence[Timer], now: datetime) -> None:
        for each in fires:
            each(timers, now)

    return fire
