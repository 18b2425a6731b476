"""The DeviceClaim aggregate: which execution may be active on a device (docs/firmware.md 12.2,
"one active execution per device; a second one is queued, not refused").

One marker stream per device, id `uuid5(FLEETWATCH_NS, "{tenant}/device-claim/{device_id}")`,
saved in the same `insert_events` as the `Notified` event of the execution that claims it
(`FleetApplication.commit(execution, meta, claim)`). The claim is released lazily: it passes to
another execution only once its holder has left the active states (the caller reads the holder's
stream and says whether it is still active). An execution becomes active only by `Notified`,
which always moves this stream, so two notifiers racing for one device conflict on this
stream's version: at most one execution per device is ever active. The loser's execution stays
QUEUED (`DeviceBusy`); which queued execution goes next is the orchestrator's choice.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from write_side.deployment_errors import DeviceBusy
from write_side.event_names import event_name
from write_side.uuids import FLEETWATCH_NS


def claim_id(tenant_id: str, device_id: UUID) -> UUID:
    return uuid5(FLEETWATCH_NS, f"{tenant_id}/device-claim/{device_id}")


class DeviceClaim(Aggregate):
    @staticmethod
    def create_id(tenant_id: str, device_id: str) -> UUID:
        return claim_id(tenant_id, UUID(device_id))

    @classmethod
    def open(cls, tenant_id: str, device_id: UUID) -> DeviceClaim:
        return cls(tenant_id=tenant_id, device_id=str(device_id))

    @event("Opened")
    def __init__(self, *, tenant_id: str, device_id: str) -> None:
        self.tenant_id, self.device_id = tenant_id, UUID(device_id)
        self.holder: UUID | None = None

    def claim(
        self, execution_id: UUID, deployment_id: UUID, at: datetime, holder_active: bool
    ) -> None:
        """Let `execution_id` become active. `holder_active`: the current holder (another
        execution) is still active, so the device is busy. Recorded even when the execution
        holds the claim already (notified again after a retry): every notification moves this
        stream, so a notifier that read the holder as ended conflicts with it."""
        if self.holder is not None and self.holder != execution_id and holder_active:
            raise DeviceBusy(
                f"device {self.device_id} runs execution {self.holder}", str(self.holder)
            )
        self._claimed(
            execution_id=str(execution_id),
            deployment_id=str(deployment_id),
            previous=None if self.holder is None else str(self.holder),
            at=at.isoformat(),
        )

    @event("Claimed")
    def _claimed(
        self, *, execution_id: str, deployment_id: str, previous: str | None, at: str
    ) -> None:
        self.holder = UUID(execution_id)


CLAIM_OPENED = event_name(DeviceClaim, "Opened")
CLAIM_CLAIMED = event_name(DeviceClaim, "Claimed")
CLAIM_EVENTS = (CLAIM_OPENED, CLAIM_CLAIMED)
