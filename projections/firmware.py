"""The firmware projection: `Firmware.*` and `SigningKeys.*` into the firmware read model (one
row per release, one per tenant for its signing keys; docs/firmware.md section 12.7).

`evolve_release` and `evolve_keys` are pure (no I/O) and read only the envelope; each row is
guarded by its stream's version, so a replayed event changes nothing. `FirmwareProjection`
folds a batch in memory and hands the changed rows and the checkpoint to the view
(`read_side.firmware.FirmwareView`), which commits them together. No change notices: no
subscription serves releases. The `FirmwareVersion` markers are not read: a release's row
already names its types and version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.envelope import EventEnvelope
from projections.runner import event_topics
from read_side.firmware import (
    FirmwareChanges,
    FirmwareReader,
    FirmwareRow,
    FirmwareView,
    SigningKeyRow,
    SigningKeysRow,
)
from read_side.notifications import ChangeNotice
from write_side.event_names import topics, types
from write_side.firmware import (
    FIRMWARE_EVENTS,
    FIRMWARE_PUBLISHED,
    FIRMWARE_UPLOAD_REJECTED,
    FIRMWARE_UPLOAD_REQUESTED,
    FIRMWARE_WITHDRAWN,
    Firmware,
)
from write_side.firmware_keys import (
    SIGNING_KEY_REGISTERED,
    SIGNING_KEY_REVOKED,
    SIGNING_KEYS_EVENTS,
    SIGNING_KEYS_OPENED,
    SIGNING_REQUIREMENT_CHANGED,
    SigningKeys,
)
from write_side.firmware_states import FirmwareStatus
from write_side.semver import parse_semver

RELEASE_TYPES = types(FIRMWARE_EVENTS)
KEYS_TYPES = types(SIGNING_KEYS_EVENTS)
TOPICS = topics((*FIRMWARE_EVENTS, *SIGNING_KEYS_EVENTS))


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def evolve_release(current: FirmwareRow | None, envelope: EventEnvelope) -> FirmwareRow | None:
    """The release's row after `envelope`; None when it changes nothing (or was absorbed)."""
    payload, kind = envelope.payload, envelope.type
    if current is not None and envelope.version <= current.version:
        return None
    common: dict[str, Any] = {"version": envelope.version, "updated_at": envelope.occurred_at}
    if kind == FIRMWARE_UPLOAD_REQUESTED.type:
        revisions = payload.get("hardware_revisions")
        return FirmwareRow(
            tenant_id=str(payload["tenant_id"]),
            firmware_id=UUID(envelope.stream_id),
            firmware_version=str(payload["version"]),
            sort_key=parse_semver(str(payload["version"])).sort_key,
            device_types=tuple(payload["device_types"]),
            hardware_revisions=None if revisions is None else tuple(revisions),
            filename=str(payload["filename"]),
            size_bytes=int(payload["size_bytes"]),
            sha256=str(payload["sha256"]),
            object_key=str(payload["object_key"]),
            signature=payload.get("signature"),
            key_id=payload.get("key_id"),
            release_notes=payload.get("release_notes"),
            status=FirmwareStatus.PENDING_UPLOAD,
            uploaded_at=envelope.occurred_at,
            expires_at=_time(payload.get("expires_at")),
            verified_at=None,
            rejection_reason=None,
            withdrawn_at=None,
            withdrawn_by=None,
            withdraw_reason=None,
            **common,
        )
    if current is None:
        return None  # a release this model never saw requested (cannot happen in feed order)
    if kind == FIRMWARE_PUBLISHED.type:
        return replace(
            current,
            status=FirmwareStatus.AVAILABLE,
            size_bytes=int(payload["size_bytes"]),
            sha256=str(payload["sha256"]),
            verified_at=_time(payload["verified_at"]),
            **common,
        )
    if kind == FIRMWARE_UPLOAD_REJECTED.type:
        reason = str(payload["reason"])
        return replace(current, status=FirmwareStatus.REJECTED, rejection_reason=reason, **common)
    if kind == FIRMWARE_WITHDRAWN.type:
        return replace(
            current,
            status=FirmwareStatus.WITHDRAWN,
            withdrawn_at=envelope.occurred_at,
            withdrawn_by=str(payload["by"]),
            withdraw_reason=payload.get("reason"),
            **common,
        )
    return replace(current, **common)  # an event type added later: keep the guard moving


def evolve_keys(current: SigningKeysRow | None, envelope: EventEnvelope) -> SigningKeysRow | None:
    """The tenant's signing keys after `envelope`; None when it changes nothing."""
    payload, kind = envelope.payload, envelope.type
    if current is not None and envelope.version <= current.version:
        return None
    common: dict[str, Any] = {"version": envelope.version, "updated_at": envelope.occurred_at}
    if kind == SIGNING_KEYS_OPENED.type:
        return SigningKeysRow(str(payload["tenant_id"]), required=False, keys=(), **common)
    if current is None:
        return None
    if kind == SIGNING_KEY_REGISTERED.type:
        key = SigningKeyRow(
            key_id=str(payload["key_id"]),
            public_key=str(payload["public_key"]),
            label=str(payload["label"]),
            registered_at=envelope.occurred_at,
        )
        others = tuple(k for k in current.keys if k.key_id != key.key_id)
        return replace(current, keys=(*others, key), **common)
    if kind == SIGNING_KEY_REVOKED.type:
        keys = tuple(
            replace(k, revoked_at=envelope.occurred_at, revoke_reason=payload.get("reason"))
            if k.key_id == payload["key_id"]
            else k
            for k in current.keys
        )
        return replace(current, keys=keys, **common)
    if kind == SIGNING_REQUIREMENT_CHANGED.type:
        return replace(current, required=bool(payload["required"]), **common)
    return replace(current, **common)


class FirmwareProjection:
    name = "firmware"

    def __init__(self, view: FirmwareView, reader: FirmwareReader) -> None:
        self.view = view
        self.reader = reader
        self.topics = tuple(t for t in event_topics(Firmware, SigningKeys) if self.handles(t))

    def handles(self, topic: str) -> bool:
        return topic in TOPICS

    def process(self, envelope: EventEnvelope, tracking: Tracking) -> list[ChangeNotice]:
        return self.process_batch([envelope], tracking)

    def process_batch(
        self, envelopes: Sequence[EventEnvelope], tracking: Tracking
    ) -> list[ChangeNotice]:
        """Fold the batch into the changed rows and save them with `tracking` (the checkpoint
        alone when nothing changed)."""
        releases: dict[tuple[str, UUID], FirmwareRow | None] = {}
        keys: dict[str, SigningKeysRow | None] = {}
        changed_releases: set[tuple[str, UUID]] = set()
        changed_keys: set[str] = set()
        for envelope in envelopes:
            tenant = envelope.tenant_id
            if envelope.type in RELEASE_TYPES:
                key = (tenant, UUID(envelope.stream_id))
                if key not in releases:
                    releases[key] = self.reader.get(*key)
                if (row := evolve_release(releases[key], envelope)) is not None:
                    releases[key] = row
                    changed_releases.add(key)
            elif envelope.type in KEYS_TYPES:
                if tenant not in keys:
                    keys[tenant] = self.reader.signing_keys(tenant)
                if (keys_row := evolve_keys(keys[tenant], envelope)) is not None:
                    keys[tenant] = keys_row
                    changed_keys.add(tenant)
        changes = FirmwareChanges(
            releases=[r for k in sorted(changed_releases) if (r := releases[k]) is not None],
            keys=[s for t in sorted(changed_keys) if (s := keys[t]) is not None],
        )
        self.view.commit(changes, tracking)  # also none: another process waits on it
        return []
