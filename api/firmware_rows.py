"""The firmware and deployments slices' command path: a command through the one command path
(`api.command_path`), answered with the read model's row, or, while the read model is still
behind (or not wired), the row built from the aggregate just saved (`firmware_row_of`,
`keys_row_of`, `deployment_row_of`); the read models themselves (`firmware_reader`,
`deployments_reader`): a query on a system without them is `ReadModelUnavailable` (503), never
a 500; and the listings' edge cursors, as the read models encode them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar
from uuid import UUID

from api.auth import Principal
from api.command_path import run_command
from api.ports import FleetSystem
from event_store.envelope import EventMetadata
from read_side.alerts.port import encode_cursor
from read_side.deployments.port import (
    DEPLOYMENTS_CURSOR,
    EXECUTIONS_CURSOR,
    DeploymentsReader,
    deployment_key,
    execution_key,
)
from read_side.deployments.row import DeploymentRow, ExecutionRow, WaveRow
from read_side.firmware.port import FirmwareReader
from read_side.firmware.row import FirmwareRow, SigningKeyRow, SigningKeysRow
from write_side.application import Saved
from write_side.deployments import Deployment
from write_side.errors import DomainError
from write_side.firmware import Firmware
from write_side.firmware_keys import SigningKeys
from write_side.semver import parse_semver

C = TypeVar("C")


class ReadModelUnavailable(DomainError):
    code = "UNAVAILABLE"


def firmware_reader(system: FleetSystem) -> FirmwareReader:
    if system.firmware is None:
        raise ReadModelUnavailable("the firmware read model is not running here")
    return system.firmware


def deployments_reader(system: FleetSystem) -> DeploymentsReader:
    if system.deployments is None:
        raise ReadModelUnavailable("the deployments read model is not running here")
    return system.deployments


def deployment_cursor(row: DeploymentRow) -> str:
    """An edge's cursor, as the deployments model's listing encodes it (newest created first;
    `read_side.deployments`' adapters)."""
    return encode_cursor(DEPLOYMENTS_CURSOR, deployment_key(row))


def execution_cursor(row: ExecutionRow) -> str:
    """An edge's cursor, as a deployment's executions are listed (by device, then purpose)."""
    return encode_cursor(EXECUTIONS_CURSOR, execution_key(row))


async def run_firmware_command(
    system: FleetSystem,
    caller: Principal,
    handle: Callable[[C, EventMetadata], Saved[Firmware]],
    command: C,
) -> FirmwareRow:
    """A release command (withdraw) through the one command path."""

    def fallback(saved: Saved[Firmware], row: FirmwareRow | None) -> FirmwareRow:
        return firmware_row_of(saved.aggregate, row)

    read = _unread if system.firmware is None else system.firmware.get
    return await run_command(system, caller, handle, command, read=read, fallback=fallback)


async def run_keys_command(
    system: FleetSystem,
    caller: Principal,
    handle: Callable[[C, EventMetadata], Saved[SigningKeys]],
    command: C,
) -> SigningKeysRow:
    """A signing-key command (register, revoke, require) through the one command path."""

    def fallback(saved: Saved[SigningKeys], _row: SigningKeysRow | None) -> SigningKeysRow:
        return keys_row_of(saved.aggregate)

    def read(tenant_id: str, _keys_id: UUID) -> SigningKeysRow | None:
        return None if system.firmware is None else system.firmware.signing_keys(tenant_id)

    return await run_command(system, caller, handle, command, read=read, fallback=fallback)


async def run_deployment_command(
    system: FleetSystem,
    caller: Principal,
    handle: Callable[[C, EventMetadata], Saved[Deployment]],
    command: C,
) -> DeploymentRow:
    """A deployment command (create, approve, pause, resume, cancel)."""

    def fallback(saved: Saved[Deployment], row: DeploymentRow | None) -> DeploymentRow:
        return deployment_row_of(saved.aggregate, row)

    read = _unread if system.deployments is None else system.deployments.get
    return await run_command(system, caller, handle, command, read=read, fallback=fallback)


def _unread(_tenant_id: str, _id: UUID) -> None:
    """No read model wired: the answer is the aggregate's (`fallback`)."""


def firmware_row_of(firmware: Firmware, row: FirmwareRow | None) -> FirmwareRow:
    """The release as saved, for an answer the read model has not caught up with yet."""
    return FirmwareRow(
        tenant_id=firmware.tenant_id,
        firmware_id=firmware.id,
        firmware_version=firmware.firmware_version,
        sort_key=parse_semver(firmware.firmware_version).sort_key,
        device_types=tuple(firmware.device_types),
        hardware_revisions=None
        if firmware.hardware_revisions is None
        else tuple(firmware.hardware_revisions),
        filename=firmware.filename,
        size_bytes=firmware.size_bytes,
        sha256=firmware.sha256,
        object_key=firmware.object_key,
        signature=firmware.signature,
        key_id=firmware.key_id,
        release_notes=firmware.release_notes,
        status=firmware.status,
        uploaded_at=firmware.created_on,
        expires_at=firmware.expires_at,
        verified_at=firmware.verified_at,
        rejection_reason=firmware.rejection_reason,
        withdrawn_at=firmware.withdrawn_at,
        withdrawn_by=firmware.withdrawn_by,
        withdraw_reason=None if row is None else row.withdraw_reason,
        version=firmware.version,
        updated_at=firmware.modified_on,
    )


def keys_row_of(keys: SigningKeys) -> SigningKeysRow:
    return SigningKeysRow(
        tenant_id=keys.tenant_id,
        required=keys.required,
        keys=tuple(
            SigningKeyRow(k.key_id, k.public_key, k.label, k.registered_at, k.revoked_at)
            for k in keys.keys.values()
        ),
        version=keys.version,
        updated_at=keys.modified_on,
    )


def deployment_row_of(deployment: Deployment, row: DeploymentRow | None) -> DeploymentRow:
    """The deployment as saved (its status, wave and version) over the read model's row when
    there is one; a new deployment's waves as planned, nothing counted yet."""
    if row is not None:
        return replace(
            row,
            status=deployment.status,
            current_wave=deployment.wave,
            version=deployment.version,
            updated_at=deployment.modified_on,
        )
    plan = deployment.plan
    return DeploymentRow(
        tenant_id=deployment.tenant_id,
        deployment_id=deployment.id,
        name=deployment.name,
        firmware_id=UUID(deployment.firmware_id),
        firmware_version=deployment.firmware_version,
        status=deployment.status,
        current_wave=deployment.wave,
        target=deployment.target.to_payload(),
        targets=0,
        waves=tuple(WaveRow(index=i, approval=w.approval) for i, w in enumerate(plan.waves)),
        counts={},
        decisions=(),
        plan=plan.to_payload(),
        seed=plan.seed,
        created_by=deployment.created_by,
        created_at=deployment.created_on,
        started_at=None,
        finished_at=None,
        notified=0,
        success_seconds={},
        version=deployment.version,
        position=0,
        updated_at=deployment.modified_on,
    )
