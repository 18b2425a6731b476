"""Fleet compliance compares devices with the latest *release* of their type: the AVAILABLE
version of highest precedence that is not a pre-release (docs/firmware.md 12.7), found past
any number of pre-releases above it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID

from read_side.deployments.compliance import latest_release, summarize
from read_side.firmware import (
    FirmwareFilter,
    FirmwareReader,
    FirmwareRow,
    FirmwareStatus,
    SigningKeysRow,
)
from read_side.paging import Page
from write_side.semver import parse_semver

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AVAILABLE, WITHDRAWN = FirmwareStatus.AVAILABLE, FirmwareStatus.WITHDRAWN


def release(version: str, status: FirmwareStatus = AVAILABLE) -> FirmwareRow:
    return FirmwareRow(
        "acme", uuid.uuid4(), version, parse_semver(version).sort_key, ("pump",), None, "f", 1,
        "a" * 64, "k", None, None, None, status, T0, None, None, None, None, None, None, 1, T0,
    )  # fmt: skip


class MemoryFirmware(FirmwareReader):
    """The port's listing over a list: highest precedence first, cursors as offsets."""

    def __init__(self, rows: list[FirmwareRow]) -> None:
        self.rows = sorted(rows, key=lambda r: r.sort_key, reverse=True)

    def get(self, tenant_id: str, firmware_id: UUID) -> FirmwareRow | None:
        return next((r for r in self.rows if r.firmware_id == firmware_id), None)

    def releases(
        self, tenant_id: str, criteria: FirmwareFilter, first: int, after: str | None
    ) -> Page[FirmwareRow]:
        found = [r for r in self.rows if criteria.matches(r)]
        start = int(after or 0)
        end = start + first
        return Page(found[start:end], str(end) if end < len(found) else None)

    def latest(self, tenant_id: str, device_type: str) -> FirmwareRow | None:
        return self.releases(tenant_id, FirmwareFilter(device_type, AVAILABLE), 1, None).items[0]

    def signing_keys(self, tenant_id: str) -> SigningKeysRow | None:
        return None


def test_devices_are_behind_the_highest_available_non_prerelease() -> None:
    candidates = [release(f"2.0.0-rc.{n}") for n in range(1, 30)]  # more than a page
    firmware = MemoryFirmware(
        [*candidates, release("1.3.0", WITHDRAWN), release("1.2.0"), release("1.0.0")]
    )
    assert firmware.latest("acme", "pump") == candidates[-1]  # the model's own `latest`
    found = latest_release(firmware, "acme", "pump")
    assert found is not None
    assert found.firmware_version == "1.2.0"
    groups = [("pump", "1.2.0", 4, 0), ("pump", "2.0.0-rc.29", 1, 0), ("pump", "1.0.0", 2, 0)]
    (pump,) = summarize(groups, lambda kind: latest_release(firmware, "acme", kind))
    assert (pump.latest_version, pump.behind) == ("1.2.0", 2)


def test_a_type_with_only_prereleases_has_no_latest_and_none_behind() -> None:
    firmware = MemoryFirmware([release("1.0.0-beta"), release("0.9.0", WITHDRAWN)])
    assert latest_release(firmware, "acme", "pump") is None
    (pump,) = summarize(
        [("pump", "0.1.0", 3, 0)], lambda kind: latest_release(firmware, "acme", kind)
    )
    assert (pump.latest_version, pump.behind) == (None, 0)
