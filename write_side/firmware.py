"""The firmware aggregates (docs/firmware.md sections 12.1 and 12.6): `Firmware`, one release,
and `FirmwareVersion`, the marker that makes a version unique per (tenant, device type).

A release (random id) is requested (`UploadRequested`), then `Published` once its image is
verified, or `UploadRejected`; a published release is immutable and may only be `Withdrawn`,
after which no new deployment may use it (`require_available`). Embedded uploads record
`UploadRequested` and `Published` in one commit. A presigned upload not confirmed by its URL's
expiry plus `UPLOAD_GRACE` is expired: `UploadRejected(reason="expired")` (`expire`), and a
confirmation after that deadline is `UploadExpired` (`require_confirmable`).

`FirmwareVersion` markers are claimed when a release is PUBLISHED, never when it is requested:
one marker stream per compatible type, id `uuid5(FLEETWATCH_NS,
"{tenant}/firmware/{device_type}/{version}")`, saved in the same `insert_events` as the
`Published` event, so the store itself refuses a second published 1.4.0 for a type. A rejected
or expired upload therefore never holds a version; a withdrawn release keeps its versions (a
version once published is never reused for other bytes). The version in the id is the SemVer
identity (build metadata stripped): 1.4.0+a and 1.4.0+b have the same precedence, so they are
the same version here.

Invariants are checked in the public methods; state changes only when events apply. The
tenant's signing keys are `write_side/firmware_keys.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal, get_args
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from write_side.deployment_errors import FirmwareUnavailable, InvalidTransition, UploadExpired
from write_side.errors import InvalidInput
from write_side.event_names import event_name
from write_side.firmware_objects import object_key
from write_side.firmware_states import FirmwareStatus
from write_side.semver import parse_semver
from write_side.uuids import FLEETWATCH_NS

MAX_DEVICE_TYPES = 16  # so a publication commits at most 17 streams (DynamoDB: under 40)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
RejectionReason = Literal["checksum_mismatch", "size_mismatch", "missing_object", "expired"]
REJECTION_REASONS: tuple[RejectionReason, ...] = get_args(RejectionReason)
# A PUT started just before its URL expired may still be arriving: an unconfirmed upload is
# expired (and may be confirmed) until its URL's expiry plus this.
UPLOAD_GRACE = timedelta(minutes=5)


HARDWARE_REVISION_METADATA_KEY = "fleetwatch.hardware_revision"  # in a device's metadata


def installs_on(
    device_types: Sequence[str],
    hardware_revisions: Sequence[str] | None,
    device_type: str,
    metadata: Mapping[str, str],
) -> bool:
    """Whether a release made for `device_types` (and, when it names any, `hardware_revisions`)
    installs on a device of `device_type` with `metadata`: its type is one of them and its
    `fleetwatch.hardware_revision` one of the revisions (a device without one is not)."""
    if device_type not in device_types:
        return False
    return not hardware_revisions or metadata.get(HARDWARE_REVISION_METADATA_KEY) in (
        hardware_revisions
    )


def firmware_version_id(tenant_id: str, device_type: str, version: str) -> UUID:
    """The marker stream of `version` (its SemVer identity) for `device_type`."""
    identity = parse_semver(version).identity
    return uuid5(FLEETWATCH_NS, f"{tenant_id}/firmware/{device_type}/{identity}")


class Firmware(Aggregate):
    """One release of one tenant. Create with `Firmware.request_upload(...)`."""

    @classmethod
    def request_upload(
        cls,
        *,
        tenant_id: str,
        version: str,
        device_types: Sequence[str],
        hardware_revisions: Sequence[str] | None,
        filename: str,
        size_bytes: int,
        sha256: str,
        signature: str | None,
        key_id: str | None,
        release_notes: str | None,
        expires_at: datetime | None,
    ) -> Firmware:
        """A release awaiting its image. The caller has checked the signature (it needs the
        tenant's keys); here the release's own invariants."""
        parse_semver(version)
        types = list(dict.fromkeys(device_types))
        if not 1 <= len(types) <= MAX_DEVICE_TYPES:
            raise InvalidInput(f"a release has 1..{MAX_DEVICE_TYPES} device types", "deviceTypes")
        if size_bytes < 1:
            raise InvalidInput("an image has at least one byte", "sizeBytes")
        if not _SHA256.match(sha256):
            raise InvalidInput("a SHA-256 is 64 lowercase hex digits", "sha256")
        return cls(
            tenant_id=tenant_id,
            version=version,
            device_types=types,
            hardware_revisions=None if hardware_revisions is None else list(hardware_revisions),
            filename=filename,
            size_bytes=size_bytes,
            sha256=sha256,
            object_key=object_key(tenant_id, sha256),
            signature=signature,
            key_id=key_id,
            release_notes=release_notes,
            expires_at=None if expires_at is None else expires_at.isoformat(),
        )

    @event("UploadRequested")
    def __init__(
        self,
        *,
        tenant_id: str,
        version: str,
        device_types: list[str],
        hardware_revisions: list[str] | None,
        filename: str,
        size_bytes: int,
        sha256: str,
        object_key: str,
        signature: str | None,
        key_id: str | None,
        release_notes: str | None,
        expires_at: str | None,
    ) -> None:
        self.tenant_id, self.firmware_version, self.filename = tenant_id, version, filename
        self.device_types = list(device_types)
        self.hardware_revisions = None if hardware_revisions is None else list(hardware_revisions)
        self.size_bytes, self.sha256, self.object_key = size_bytes, sha256, object_key
        self.signature, self.key_id, self.release_notes = signature, key_id, release_notes
        self.expires_at = None if expires_at is None else datetime.fromisoformat(expires_at)
        self.status = FirmwareStatus.PENDING_UPLOAD
        self.verified_at: datetime | None = None
        self.rejection_reason: str | None = None
        self.withdrawn_at: datetime | None = None
        self.withdrawn_by: str | None = None

    def publish(self, size_bytes: int, sha256: str, verified_at: datetime) -> None:
        """The image is stored and matches: the release becomes available. Only a pending
        upload is published; the verified size and SHA-256 must be the requested ones."""
        self._require_pending()
        if sha256 != self.sha256:
            raise InvalidInput("the image's SHA-256 is not the one requested", "sha256")
        if size_bytes != self.size_bytes:
            raise InvalidInput("the image's size is not the one requested", "sizeBytes")
        self._published(size_bytes=size_bytes, sha256=sha256, verified_at=verified_at.isoformat())

    def mismatch(self, size_bytes: int, sha256: str) -> RejectionReason | None:
        """Why the stored image (its size and SHA-256) is not the requested one, if it is not."""
        if sha256 != self.sha256:
            return "checksum_mismatch"
        if size_bytes != self.size_bytes:
            return "size_mismatch"
        return None

    def reject(self, reason: RejectionReason) -> None:
        """The upload failed (a mismatch, no object, or not confirmed in time)."""
        if reason not in REJECTION_REASONS:
            raise InvalidInput(f"a rejection reason is one of {REJECTION_REASONS}", "reason")
        self._require_pending()
        self._upload_rejected(reason=reason)

    def upload_deadline(self, grace: timedelta = UPLOAD_GRACE) -> datetime | None:
        """When an unconfirmed upload expires: its URL's expiry plus `grace` (None: embedded)."""
        return None if self.expires_at is None else self.expires_at + grace

    def expire(self, now: datetime, grace: timedelta = UPLOAD_GRACE) -> bool:
        """A pending upload past its deadline is rejected as `expired`. False (nothing
        recorded) when it was expired already; `InvalidTransition` when it was published or
        rejected for another reason meanwhile, or is not past its deadline."""
        if self.status is FirmwareStatus.REJECTED and self.rejection_reason == "expired":
            return False
        self._require_pending()
        deadline = self.upload_deadline(grace)
        if deadline is None or now < deadline:
            raise InvalidTransition(f"firmware {self.id}'s upload is open until {deadline}")
        self._upload_rejected(reason="expired")
        return True

    def require_confirmable(self, now: datetime, grace: timedelta = UPLOAD_GRACE) -> None:
        """`UploadExpired` when the upload was expired or is past its deadline (a confirmation
        too late), `InvalidTransition` when the release is not pending for another reason."""
        deadline = self.upload_deadline(grace)
        late = deadline is not None and now >= deadline
        if self.rejection_reason == "expired" or (self._pending and late):
            raise UploadExpired(f"firmware {self.id}'s upload expired at {deadline}")
        self._require_pending()

    def withdraw(self, reason: str | None, by: str) -> bool:
        """No new deployment may use the release. False (nothing recorded) when it is withdrawn
        already; a release that was never published cannot be withdrawn."""
        if self.status is FirmwareStatus.WITHDRAWN:
            return False
        if self.status is not FirmwareStatus.AVAILABLE:
            raise InvalidTransition(f"firmware {self.id} is {self.status.value}, not published")
        self.trigger_event(self.Withdrawn, reason=reason, by=by)
        return True

    def require_available(self) -> None:
        """`FirmwareUnavailable` unless a new deployment may use the release."""
        if self.status is not FirmwareStatus.AVAILABLE:
            raise FirmwareUnavailable(f"firmware {self.id} is {self.status.value}")

    @property
    def _pending(self) -> bool:
        return self.status is FirmwareStatus.PENDING_UPLOAD

    def _require_pending(self) -> None:
        if not self._pending:
            raise InvalidTransition(f"firmware {self.id} is {self.status.value}, not pending")

    @event("Published")
    def _published(self, size_bytes: int, sha256: str, verified_at: str) -> None:
        self.status = FirmwareStatus.AVAILABLE
        self.verified_at = datetime.fromisoformat(verified_at)

    @event("UploadRejected")
    def _upload_rejected(self, reason: str) -> None:
        self.status = FirmwareStatus.REJECTED
        self.rejection_reason = reason

    class Withdrawn(Aggregate.Event):
        reason: str | None
        by: str

        def apply(self, aggregate: Aggregate) -> None:
            assert isinstance(aggregate, Firmware)
            aggregate.status = FirmwareStatus.WITHDRAWN
            aggregate.withdrawn_at = self.timestamp  # the event's own time
            aggregate.withdrawn_by = self.by


class FirmwareVersion(Aggregate):
    """The claim of one version for one device type by one release: its stream exists once."""

    @staticmethod
    def create_id(tenant_id: str, device_type: str, version: str) -> UUID:
        return firmware_version_id(tenant_id, device_type, version)

    @classmethod
    def claim(
        cls, tenant_id: str, device_type: str, version: str, firmware_id: UUID
    ) -> FirmwareVersion:
        return cls(
            tenant_id=tenant_id,
            device_type=device_type,
            version=version,
            firmware_id=str(firmware_id),
        )

    @event("Claimed")
    def __init__(self, *, tenant_id: str, device_type: str, version: str, firmware_id: str) -> None:
        self.tenant_id, self.device_type = tenant_id, device_type
        self.firmware_version = version  # (`version` is the stream's)
        self.firmware_id = UUID(firmware_id)


def claims(firmware: Firmware) -> list[FirmwareVersion]:
    """The markers a release's publication saves with it, one per compatible type."""
    return [
        FirmwareVersion.claim(
            firmware.tenant_id, device_type, firmware.firmware_version, firmware.id
        )
        for device_type in firmware.device_types
    ]


# Their events, named in code (`write_side.event_names`): consumers use these, never strings.
FIRMWARE_UPLOAD_REQUESTED = event_name(Firmware, "UploadRequested")
FIRMWARE_PUBLISHED = event_name(Firmware, "Published")
FIRMWARE_UPLOAD_REJECTED = event_name(Firmware, "UploadRejected")
FIRMWARE_WITHDRAWN = event_name(Firmware, "Withdrawn")
FIRMWARE_EVENTS = (
    FIRMWARE_UPLOAD_REQUESTED,
    FIRMWARE_PUBLISHED,
    FIRMWARE_UPLOAD_REJECTED,
    FIRMWARE_WITHDRAWN,
)
FIRMWARE_VERSION_CLAIMED = event_name(FirmwareVersion, "Claimed")
FIRMWARE_VERSION_EVENTS = (FIRMWARE_VERSION_CLAIMED,)
