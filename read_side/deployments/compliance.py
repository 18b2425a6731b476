"""Fleet compliance as the readers answer it, from the device rows grouped by (device type,
reported version) and the latest release of each type (`latest_release`: the AVAILABLE one of
highest precedence that is not a pre-release; a device is not behind a release candidate):
computed when read, so a release published or withdrawn changes every device's
`behind` at once, with nothing rewritten. A device is behind when it reported no version, a
version that is not SemVer, or one that precedes the latest; none is behind a type without an
available release."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from read_side.deployments.row import ComplianceRow
from read_side.firmware.port import FirmwareFilter, FirmwareReader
from read_side.firmware.row import FirmwareRow, FirmwareStatus
from write_side.errors import InvalidInput
from write_side.semver import parse_semver

__all__ = ["Group", "latest_release", "precedes", "summarize"]

Group = tuple[str, str | None, int, int]  # device type, reported version, devices, failed


def latest_release(
    firmware: FirmwareReader, tenant_id: str, device_type: str
) -> FirmwareRow | None:
    """The AVAILABLE release of `device_type` of highest precedence that is not a pre-release
    (withdrawn ones are not AVAILABLE): the first such in the firmware model's listing, read a
    page at a time past the pre-releases above it."""
    criteria = FirmwareFilter(device_type=device_type, status=FirmwareStatus.AVAILABLE)
    after: str | None = None
    while True:
        page = firmware.releases(tenant_id, criteria, _PAGE, after)
        for row in page.items:
            if not parse_semver(row.firmware_version).prerelease:
                return row
        if (after := page.next_cursor) is None:
            return None


_PAGE = 20


def precedes(version: str | None, latest: FirmwareRow) -> bool:
    if version is None:
        return True
    try:
        return parse_semver(version).sort_key < latest.sort_key
    except InvalidInput:
        return True


def summarize(
    groups: Iterable[Group], latest: Callable[[str], FirmwareRow | None]
) -> list[ComplianceRow]:
    """One row per device type, by device type; `latest` gives the type's latest release."""
    by_type: dict[str, list[Group]] = {}
    for group in groups:
        by_type.setdefault(group[0], []).append(group)
    rows = []
    for device_type in sorted(by_type):
        release = latest(device_type)
        versions: dict[str, int] = {}
        behind = failed = 0
        for _, version, devices, failures in by_type[device_type]:
            versions[version or ""] = versions.get(version or "", 0) + devices
            failed += failures
            if release is not None and precedes(version, release):
                behind += devices
        rows.append(
            ComplianceRow(
                device_type=device_type,
                devices=sum(versions.values()),
                versions=versions,
                latest_firmware_id=None if release is None else release.firmware_id,
                latest_version=None if release is None else release.firmware_version,
                behind=behind,
                failed=failed,
            )
        )
    return rows
