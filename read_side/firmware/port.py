"""The firmware model's ports: the queries the API asks (`FirmwareReader`) and the writes the
projection commits through (`FirmwareView`), beside the adapters that implement both
(`sqlite`, `dynamodb`).

Orderings (the same on every adapter): releases by SemVer precedence, highest first (`sort_key`
descending), then by firmware id; with a device type, only that type's releases (an index row
per compatible type). Cursors are opaque base64url strings of the last key returned; a cursor of
another listing is `InvalidInput(field="after")`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.persistence import Tracking

from read_side.firmware.row import FirmwareRow, SigningKeysRow
from read_side.paging import Page
from write_side.firmware_states import FirmwareStatus

__all__ = [
    "FIRMWARE_CURSOR",
    "FirmwareChanges",
    "FirmwareFilter",
    "FirmwareReader",
    "FirmwareView",
    "release_key",
]

FIRMWARE_CURSOR = "firmware"  # the listing's cursor kind: every adapter's, and the API's edges


def release_key(row: FirmwareRow) -> str:
    """A release's place in a listing, as text that sorts ascending in reverse precedence:
    each character of the sort key (all within "!".."~") complemented within " ".."~", after a
    terminator (" ", so that no key is a prefix of another), then the firmware id."""
    inverted = "".join(chr(0x7E - (ord(c) - 0x20)) for c in row.sort_key + " ")
    return f"{inverted}#{row.firmware_id.hex}"


@dataclass(frozen=True)
class FirmwareFilter:
    device_type: str | None = None
    status: FirmwareStatus | None = None

    def matches(self, row: FirmwareRow) -> bool:
        return (self.device_type is None or self.device_type in row.device_types) and (
            self.status is None or row.status is self.status
        )


class FirmwareReader(ABC):
    """Port: queries over the firmware model; another tenant's rows are never returned."""

    @abstractmethod
    def get(self, tenant_id: str, firmware_id: UUID) -> FirmwareRow | None: ...

    @abstractmethod
    def releases(
        self, tenant_id: str, criteria: FirmwareFilter, first: int, after: str | None
    ) -> Page[FirmwareRow]:
        """Releases matching `criteria`, highest precedence first (see the module's doc)."""

    @abstractmethod
    def latest(self, tenant_id: str, device_type: str) -> FirmwareRow | None:
        """The AVAILABLE release of `device_type` with the highest precedence, if any."""

    @abstractmethod
    def signing_keys(self, tenant_id: str) -> SigningKeysRow | None:
        """The tenant's keys and requirement; None before its first key or requirement."""


@dataclass
class FirmwareChanges:
    """The rows a batch of events changed, for `FirmwareView.commit`."""

    releases: list[FirmwareRow] = field(default_factory=list)
    keys: list[SigningKeysRow] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.releases or self.keys)


class FirmwareView(ABC):
    """Port for the projection's writes: rows and checkpoint commit together."""

    @abstractmethod
    def commit(self, changes: FirmwareChanges, tracking: Tracking) -> None:
        """Upsert the rows and record `tracking`, together (DynamoDB: a row only over one of a
        lower stream version, since a batch may need several transactions)."""

    @abstractmethod
    def max_tracking_id(self, application_name: str) -> int | None: ...

    @abstractmethod
    def reset(self, application_name: str) -> None:
        """Delete every row and the checkpoint, for a rebuild from position zero."""
