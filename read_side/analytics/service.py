"""The analytics query service (docs/analytics.md 20.3): selects the caller's devices, plans,
and answers from the rollups or from the Parquet files. Blocking: run it in a worker thread."""

from __future__ import annotations

from uuid import UUID

from read_side.analytics.duck import query_parquet
from read_side.analytics.files import ParquetFiles
from read_side.analytics.plan import DEFAULT_BUDGETS, AnalyticsQuery, Budgets, Source, plan
from read_side.analytics.result import AnalyticsResult
from read_side.analytics.rollups import query_rollups
from read_side.device_status import DeviceFilter, DeviceStatusReader
from read_side.paging import MAX_PAGE_SIZE
from read_side.telemetry import TelemetryReader
from write_side.errors import InvalidInput, NotFound

__all__ = ["MAX_SELECTED_DEVICES", "AnalyticsService"]

MAX_SELECTED_DEVICES = 10_000  # by a tag or a type (budget max_devices)


class AnalyticsService:
    def __init__(
        self,
        devices: DeviceStatusReader,
        telemetry: TelemetryReader,
        files: ParquetFiles,
        budgets: Budgets = DEFAULT_BUDGETS,
    ) -> None:
        self.devices = devices
        self.telemetry = telemetry
        self.files = files
        self.budgets = budgets

    def query(self, tenant_id: str, query: AnalyticsQuery) -> AnalyticsResult:
        """The answer to `query` over the tenant's devices; `NOT_FOUND` for a named device not
        in the tenant, `InvalidInput` naming the budget a query would exceed."""
        selected = self.select(tenant_id, query)
        chosen = plan(query, None if selected is None else len(selected), self.budgets)
        if chosen.source is Source.ROLLUPS:
            assert selected is not None  # the planner sends only named devices to the rollups
            series = query_rollups(self.telemetry, tenant_id, query, selected)
        else:
            series = query_parquet(self.files, tenant_id, query, selected, self.budgets)
        return AnalyticsResult(chosen.source, series)

    def select(self, tenant_id: str, query: AnalyticsQuery) -> list[UUID] | None:
        """The selected devices of the tenant, by id order of the request or of the model;
        None for the whole fleet."""
        if query.device_ids:
            found = self.devices.get_many(tenant_id, list(query.device_ids))
            for device_id in query.device_ids:
                if device_id not in found:
                    raise NotFound(f"device {device_id} not found")
            return list(query.device_ids)
        if query.whole_fleet:
            return None
        wanted = DeviceFilter(device_type=query.device_type, tag=query.tag)
        selected: list[UUID] = []
        after: str | None = None
        while True:
            page = self.devices.list(tenant_id, wanted, MAX_PAGE_SIZE, after)
            selected.extend(status.device_id for status in page.items)
            if len(selected) > MAX_SELECTED_DEVICES:
                raise InvalidInput(
                    f"budget max_devices: more than {MAX_SELECTED_DEVICES} devices selected",
                    field=query.selector_field,
                )
            after = page.next_cursor
            if after is None:
                return selected
