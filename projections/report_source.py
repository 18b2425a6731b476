"""Where a fleet report's rows come from (docs/analytics.md 20.4): the devices in scope from the
device-status model (all of the tenant's, those of a tag, or the named ones), the latest
release of each device type from the firmware model (as compliance does, `read_side.deployments
.compliance`), rule names from the alerts model, and one pass over the feed up to its head when
the report started, of the tenant and of the report's event types only (`REPORT_TYPES`;
acknowledgements after the range count, so MTTA includes alerts acknowledged since).

Memory: one accumulator per device in scope and one per alert raised in the range, never the
events. Time: the pass reads the feed's notifications from its start (filtered by type before
decoding); `bench/export.py --kind report` measures it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from event_store.log import EventLog
from projections.report import REPORT_TYPES, FleetReport, ReportRow
from read_side.alerts import AlertReader
from read_side.deployments.compliance import latest_release, precedes
from read_side.device_status import DeviceFilter, DeviceStatusReader
from read_side.device_status.row import DeviceStatus
from read_side.firmware import FirmwareReader
from read_side.firmware.row import FirmwareRow
from write_side.exports import Export

PAGE = 500  # devices read a page at a time, feed events a page at a time


@dataclass(frozen=True)
class ReportSources:
    devices: DeviceStatusReader
    firmware: FirmwareReader
    alerts: AlertReader
    log: EventLog

    def rows(self, export: Export, chunk_rows: int) -> Iterator[list[ReportRow]]:
        tenant = export.tenant_id
        latest: dict[str, FirmwareRow | None] = {}

        def behind(device_type: str, version: str | None) -> bool:
            if device_type not in latest:
                latest[device_type] = latest_release(self.firmware, tenant, device_type)
            release = latest[device_type]
            return release is not None and precedes(version, release)

        def rule_name(rule_id: str) -> str | None:
            rule = self.alerts.get_rule(tenant, UUID(rule_id))
            return None if rule is None else rule.name

        head = self.log.head()
        report = FleetReport(
            self.scope(export), export.start, export.end, now=datetime.now(UTC),
            behind=behind, rule_names=rule_name,
        )  # fmt: skip
        for event in self.log.read_range(
            after=0, up_to=head, tenant_id=tenant, types=REPORT_TYPES, page=PAGE
        ):
            report.add(event)
        chunk: list[ReportRow] = []
        for row in report.rows():
            chunk.append(row)
            if len(chunk) == chunk_rows:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def scope(self, export: Export) -> Iterator[DeviceStatus]:
        """The named devices, else those of the tag, else all of the tenant's."""
        if export.device_ids:
            yield from self.devices.get_many(export.tenant_id, export.device_ids).values()
            return
        after: str | None = None
        criteria = DeviceFilter(tag=export.tag)
        while True:
            page = self.devices.list(export.tenant_id, criteria, PAGE, after)
            yield from page.items
            if (after := page.next_cursor) is None:
                return
