"""What the OTA orchestrator knows of each registered device (`OtaState.devices`): what a
target's filter asks (name, type, tags, metadata, decommissioning, the firmware version last
reported) and the latest alert raises and metric samples the health gate compares."""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from write_side.interned import tag_set

SAMPLES_PER_DEVICE = 2000  # recent metric samples and alert raises kept per device


@dataclass(slots=True)
class DeviceFacts:
    """One per registered device, so kept small (issue 14: 2,038 bytes a device before, most
    of it two empty deques of 624 bytes each): slots, the tenant, type and tag set shared
    (`of_registered`, `write_side.interned`), no metadata dict when there is none, and the
    alert and sample windows made at the first alert or sample only."""

    tenant_id: str
    device_type: str
    tags: frozenset[str]
    metadata: Mapping[str, str]
    name: str = ""  # for a target filter's `name_contains`
    decommissioned: bool = False
    version: str | None = None  # the firmware version last reported
    alerts: deque[datetime] | tuple[()] = ()  # the latest alert raises' times
    samples: deque[tuple[datetime, str, float]] | tuple[()] = ()  # (at, gate metric, value)

    @classmethod
    def of_registered(cls, tenant_id: str, payload: Mapping[str, Any]) -> DeviceFacts:
        return cls(
            sys.intern(tenant_id),
            sys.intern(str(payload["device_type"])),
            tag_set(payload.get("tags") or ()),
            metadata_of(payload.get("metadata")),
            str(payload.get("name") or ""),
        )

    def note_alert(self, at: datetime) -> None:
        if not isinstance(self.alerts, deque):
            self.alerts = deque(maxlen=SAMPLES_PER_DEVICE)
        self.alerts.append(at)

    def note_sample(self, at: datetime, metric: str, value: float) -> None:
        if not isinstance(self.samples, deque):
            self.samples = deque(maxlen=SAMPLES_PER_DEVICE)
        self.samples.append((at, metric, value))


_NO_METADATA: Mapping[str, str] = MappingProxyType({})


def metadata_of(given: Any) -> Mapping[str, str]:
    return dict(given) if given else _NO_METADATA
