"""The deployments model on DynamoDB: the writer (the view) and the reader; the tables and
items are `read_side.deployments.dynamodb_items`.

The writer commits each part of a batch as one transaction (`write_parts_with_tracking`, the
checkpoint on the last), every row guarded: executions by their stream version, deployments and
devices by feed position; history entries are immutable (the same entry written again is the
same item). So an execution's row and the counts it moved commit together or not at all, and a
replay after a crash between parts skips both. The reader reads strongly consistent (indexes:
eventually); compliance queries the tenant's device items and groups them here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking

from event_store.dynamodb import DynamoDBTrackingRecorder
from event_store.dynamodb.parts import guarded_put
from read_side.alerts.dynamodb_query import paged
from read_side.alerts.port import decode_cursor
from read_side.deployments import dynamodb_items as items
from read_side.deployments.compliance import latest_release, summarize
from read_side.deployments.port import (
    DEPLOYMENTS_CURSOR,
    DEVICE_EXECUTIONS_CURSOR,
    EXECUTIONS_CURSOR,
    DeploymentFilter,
    DeploymentsChanges,
    DeploymentsReader,
    DeploymentsView,
    deployment_key,
    device_execution_key,
    execution_key,
)
from read_side.deployments.row import (
    ComplianceRow,
    DeploymentRow,
    DeviceComplianceRow,
    ExecutionRow,
    TransitionRow,
)
from read_side.dynamodb_pages import query_all, query_page
from read_side.dynamodb_tables import delete_all_items, get_one
from read_side.firmware.dynamodb import DynamoDBFirmwareReader
from read_side.paging import Page, check_page_size
from write_side.deployment_states import ExecutionState


def _names(prefix: str) -> dict[str, str]:
    return {suffix: f"{prefix}{suffix}" for suffix in items.SUFFIXES}


class DynamoDBDeploymentsView(DynamoDBTrackingRecorder, DeploymentsView):
    """Build with `app.factory.tracking_recorder(DynamoDBDeploymentsView)`."""

    def construct_extra_tables(self) -> list[dict[str, Any]]:
        return [*super().construct_extra_tables(), *items.specs(self.table_prefix)]

    def commit(self, parts: Sequence[DeploymentsChanges], tracking: Tracking) -> None:
        t = _names(self.table_prefix)
        actions = [_actions(t, part) for part in parts]
        self.write_parts_with_tracking(tracking, actions or [[]])

    def reset(self, application_name: str) -> None:
        for suffix, name in _names(self.table_prefix).items():
            delete_all_items(self.client, name, items.KEYS[suffix])
        self.delete_tracking(application_name)


def _actions(t: dict[str, str], part: DeploymentsChanges) -> list[dict[str, Any]]:
    """One part's writes: guarded Puts of its rows, plain Puts of its history entries."""
    history = t["deployment_transitions"]
    return [
        *(guarded_put(t["deployments"], items.deployment_item(r), "position")
          for r in part.deployments),
        *(guarded_put(t["deployment_executions"], items.execution_item(r), "version")
          for r in part.executions),
        *({"Put": {"TableName": history, "Item": items.transition_item(r)}}
          for r in part.transitions),
        *(guarded_put(t["device_compliance"], items.device_item(r), "position")
          for r in part.devices),
    ]  # fmt: skip


class DynamoDBDeploymentsReader(DeploymentsReader):
    def __init__(self, client: Any, table_prefix: str) -> None:
        self.client = client
        self.tables = _names(table_prefix)
        self.firmware = DynamoDBFirmwareReader(client, table_prefix)

    def get(self, tenant_id: str, deployment_id: UUID) -> DeploymentRow | None:
        key = {"tenant_id": items.s(tenant_id), "deployment_id": items.s(deployment_id.hex)}
        item = get_one(self.client, self.tables["deployments"], key)
        return None if item is None else items.DEPLOYMENTS.from_item(item)

    def deployments(
        self, tenant_id: str, criteria: DeploymentFilter, first: int, after: str | None
    ) -> Page[DeploymentRow]:
        check_page_size(first)
        low = None if after is None else decode_cursor(DEPLOYMENTS_CURSOR, after)
        if criteria.device_id is not None:
            return self._device_deployments(tenant_id, criteria, first, low)
        found = query_page(
            self.client,
            table=self.tables["deployments"],
            index="by_created",
            hash_key=("tenant_id", tenant_id),
            range_name="created_key",
            after=low,
            forward=False,
            first=first,
            read=items.DEPLOYMENTS.from_item,
            matches=criteria.matches,
        )
        return paged(found, first, deployment_key, DEPLOYMENTS_CURSOR)

    def _device_deployments(
        self, tenant_id: str, criteria: DeploymentFilter, first: int, low: str | None
    ) -> Page[DeploymentRow]:
        """Through the device's executions: a device takes part in few deployments."""
        device_id = criteria.device_id or UUID(int=0)  # set by the caller's branch
        ids: dict[UUID, None] = {}
        after: str | None = None
        while True:
            page = self.device_executions(tenant_id, device_id, 500, after)
            ids.update(dict.fromkeys(e.deployment_id for e in page.items))
            if (after := page.next_cursor) is None:
                break
        rows = [r for i in ids if (r := self.get(tenant_id, i)) and criteria.matches(r)]
        keyed = sorted(((deployment_key(r), r) for r in rows), key=lambda p: p[0], reverse=True)
        kept = [p for p in keyed if low is None or p[0] < low]
        return paged((kept[: first + 1], None), first, deployment_key, DEPLOYMENTS_CURSOR)

    def execution(self, tenant_id: str, execution_id: UUID) -> ExecutionRow | None:
        key = {"tenant_id": items.s(tenant_id), "execution_id": items.s(execution_id.hex)}
        item = get_one(self.client, self.tables["deployment_executions"], key)
        return None if item is None else items.EXECUTIONS.from_item(item)

    def executions(
        self,
        tenant_id: str,
        deployment_id: UUID,
        state: ExecutionState | None,
        first: int,
        after: str | None,
    ) -> Page[ExecutionRow]:
        check_page_size(first)
        found = query_page(
            self.client,
            table=self.tables["deployment_executions"],
            index="by_deployment",
            hash_key=("tenant_deployment", f"{tenant_id}#{deployment_id.hex}"),
            range_name="device_key",
            after=None if after is None else decode_cursor(EXECUTIONS_CURSOR, after),
            forward=True,
            first=first,
            read=items.EXECUTIONS.from_item,
            matches=lambda row: state is None or row.state is state,
        )
        return paged(found, first, execution_key, EXECUTIONS_CURSOR)

    def device_executions(
        self, tenant_id: str, device_id: UUID, first: int, after: str | None
    ) -> Page[ExecutionRow]:
        check_page_size(first)
        found = query_page(
            self.client,
            table=self.tables["deployment_executions"],
            index="by_device",
            hash_key=("tenant_device", f"{tenant_id}#{device_id.hex}"),
            range_name="queued_key",
            after=None if after is None else decode_cursor(DEVICE_EXECUTIONS_CURSOR, after),
            forward=False,
            first=first,
            read=items.EXECUTIONS.from_item,
        )
        return paged(found, first, device_execution_key, DEVICE_EXECUTIONS_CURSOR)

    def history(self, tenant_id: str, execution_id: UUID) -> list[TransitionRow]:
        key = ("tenant_execution", f"{tenant_id}#{execution_id.hex}")
        table = self.tables["deployment_transitions"]
        return query_all(self.client, table, key, items.TRANSITIONS.from_item)

    def device_compliance(self, tenant_id: str, device_id: UUID) -> DeviceComplianceRow | None:
        key = {"tenant_id": items.s(tenant_id), "device_id": items.s(device_id.hex)}
        item = get_one(self.client, self.tables["device_compliance"], key)
        return None if item is None else items.DEVICES.from_item(item)

    def compliance(self, tenant_id: str, device_type: str | None) -> list[ComplianceRow]:
        table = self.tables["device_compliance"]
        devices = query_all(self.client, table, ("tenant_id", tenant_id), items.DEVICES.from_item)
        groups: dict[tuple[str, str | None], list[int]] = {}
        for d in devices:
            if device_type in (None, d.device_type):
                counts = groups.setdefault((d.device_type, d.reported_version), [0, 0])
                counts[0] += 1
                counts[1] += d.last_failed_execution is not None
        flat = [(t, v, n, f) for (t, v), (n, f) in groups.items()]
        return summarize(flat, lambda kind: latest_release(self.firmware, tenant_id, kind))
