"""A firmware release's statuses, declared once for every layer (as
`write_side.deployment_states` declares an execution's): the `Firmware` aggregate moves between
them, and the read model and the API name them without importing the aggregate."""

from __future__ import annotations

from enum import StrEnum


class FirmwareStatus(StrEnum):
    PENDING_UPLOAD = "PENDING_UPLOAD"
    AVAILABLE = "AVAILABLE"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"
