"""The DeploymentExecution aggregate (docs/firmware.md 12.3 and 12.6): each step of the pure
machine recorded as the event the catalogue lists, with its fields, and the stream loaded from
the store rebuilding the same `Execution` value (timers, retries and their abandonment
included, which the service's state machine reaches less often)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from event_store.envelope import EventMetadata
from write_side.application import FleetApplication
from write_side.deployment_errors import InvalidTransition
from write_side.deployment_execution import DeviceUpdate, ExecutionPolicy
from write_side.deployment_executions import DeploymentExecution
from write_side.deployment_retry import RetryPolicy
from write_side.deployment_states import ExecutionState, FailureKind, UpdateStatus, execution_id
from write_side.errors import ConcurrencyConflict, InvalidInput

S = ExecutionState
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
META = EventMetadata("acme", "system:ota")
DEPLOYMENT, DEVICE, FIRMWARE = uuid.UUID(int=1), uuid.UUID(int=2), uuid.UUID(int=3)
POLICY = ExecutionPolicy(retry=RetryPolicy({FailureKind.DOWNLOAD: 1, FailureKind.STALLED: 0}))


@pytest.fixture
def app() -> Iterator[FleetApplication]:
    application = FleetApplication()
    yield application
    application.close()


def queued(purpose: str = "install") -> DeploymentExecution:
    return DeploymentExecution.queue(
        tenant_id="acme", deployment_id=DEPLOYMENT, device_id=DEVICE, purpose=purpose,  # type: ignore[arg-type]
        wave=0, firmware_id=FIRMWARE, target_version="2.0.0", from_version="1.0.0",
        reason="new", not_before=None, at=T0,
    )  # fmt: skip


def update(seq: int, status: str, minutes: int, **fields: Any) -> DeviceUpdate:
    return DeviceUpdate(seq, UpdateStatus(status), T0 + timedelta(minutes=minutes), **fields)


def saved(app: FleetApplication, execution: DeploymentExecution) -> list[Any]:
    """Commit; the events recorded; and check the stream rebuilds the same value."""
    events = list(execution.pending_events)
    app.commit(execution, META)
    loaded = app.repository.get(execution.id)
    assert isinstance(loaded, DeploymentExecution)
    assert loaded.execution == execution.execution
    return events


def fields(event: Any) -> tuple[str, dict[str, Any]]:
    skip = {"originator_id", "originator_version", "timestamp", "originator_topic"}
    return type(event).__qualname__, {k: v for k, v in vars(event).items() if k not in skip}


def test_the_stream_id_is_the_natural_key(app: FleetApplication) -> None:
    execution = queued()
    assert execution.id == execution_id("acme", DEPLOYMENT, DEVICE, "install")
    assert queued("revert").id != execution.id
    saved(app, execution)
    with pytest.raises(ConcurrencyConflict):  # the store refuses a second stream
        app.commit(queued(), META)


def test_every_step_is_recorded_with_its_fields(app: FleetApplication) -> None:
    execution = queued()
    ((name, queued_fields),) = [fields(e) for e in saved(app, execution)]
    assert name == "DeploymentExecution.Queued"
    assert queued_fields["reason"] == "new"
    assert queued_fields["target_version"] == "2.0.0"
    execution.notify(T0, "mqtt", POLICY)
    execution.report(update(1, "downloading", 5, percent=20), POLICY, revert=True)
    execution.report(update(2, "failed", 6, reason="disk full"), POLICY, revert=True)
    recorded = [fields(e) for e in saved(app, execution)]
    assert [n for n, _ in recorded] == [
        "DeploymentExecution.Notified",
        "DeploymentExecution.Advanced",
        "DeploymentExecution.Failed",
    ]
    assert recorded[0][1] == {
        "attempt": 1,
        "channel": "mqtt",
        "stall_deadline": (T0 + timedelta(hours=24)).isoformat(),
        "at": T0.isoformat(),
    }
    assert recorded[1][1]["to_state"] == "DOWNLOADING"
    assert recorded[1][1]["percent"] == 20
    failed = recorded[2][1]
    assert (failed["kind"], failed["seq"], failed["revert"]) == ("download", 2, False)
    assert failed["retry_at"] is not None  # one download retry granted
    retry_at = execution.execution.retry_at
    assert retry_at is not None
    assert execution.retry(retry_at - timedelta(seconds=1)) is False  # not yet due
    assert execution.retry(retry_at) is True
    (retried,) = [fields(e) for e in saved(app, execution)]
    assert retried == ("DeploymentExecution.Retried", {"attempt": 2, "at": retry_at.isoformat()})
    execution.notify(retry_at, "http", POLICY)
    execution.report(update(3, "failed", 90, kind=FailureKind.DOWNLOAD), POLICY, revert=False)
    recorded = [fields(e) for e in saved(app, execution)]
    assert recorded[0][1]["attempt"] == 2
    assert recorded[1][1]["retry_at"] is None  # no download retry left: FAILED for good
    with pytest.raises(InvalidTransition):
        execution.abandon_retry(T0, "deployment_canceled")


def test_a_pending_retry_is_abandoned_when_the_deployment_ends(app: FleetApplication) -> None:
    execution = queued()
    execution.notify(T0, "mqtt", POLICY)
    execution.report(update(1, "failed", 1), POLICY, revert=False)
    saved(app, execution)
    execution.abandon_retry(T0 + timedelta(minutes=2), "deployment_aborted")
    ((name, abandoned),) = [fields(e) for e in saved(app, execution)]
    assert name == "DeploymentExecution.RetryAbandoned"
    assert abandoned["reason"] == "deployment_aborted"
    assert execution.execution.state is S.FAILED
    assert execution.execution.retry_at is None


def test_a_stall_without_retries_times_out(app: FleetApplication) -> None:
    execution = queued()
    execution.notify(T0, "mqtt", POLICY)
    execution.report(update(1, "installing", 1), POLICY, revert=True)
    assert execution.stall(T0 + timedelta(minutes=30), POLICY, revert=True) is False  # stale
    assert execution.stall(T0 + timedelta(hours=2), POLICY, revert=True) is True
    recorded = [fields(e) for e in saved(app, execution)][-1]
    assert recorded == (
        "DeploymentExecution.TimedOut",
        {"stalled_in": "INSTALLING", "at": (T0 + timedelta(hours=2)).isoformat(), "revert": True},
    )


def test_an_end_recorded_before_the_revert_flag_still_loads(app: FleetApplication) -> None:
    """`TimedOut` and `RolledBack` events stored without `revert` read as False."""
    for purpose in ("install", "revert"):  # two streams: a stall, a done on a third version
        execution = queued(purpose)
        execution.notify(T0, "mqtt", POLICY)
        execution.report(update(1, "installing", 1), POLICY, revert=True)
        if purpose == "install":
            execution.stall(T0 + timedelta(hours=2), POLICY, revert=True)
        else:
            execution.report(update(2, "succeeded", 2, version="1.5.0"), POLICY, revert=True)
        assert vars(execution.pending_events[-1]).pop("revert") is True
        app.commit(execution, META)
        loaded = app.repository.get(execution.id)
        assert isinstance(loaded, DeploymentExecution)
        assert loaded.execution == execution.execution
        assert loaded.execution.state in (ExecutionState.TIMED_OUT, ExecutionState.ROLLED_BACK)


def test_done_then_another_version_is_rolled_back_and_the_version_rule_replays(
    app: FleetApplication,
) -> None:
    execution = queued()
    execution.notify(T0, "mqtt", POLICY)
    execution.report(update(1, "succeeded", 1), POLICY, revert=False)  # done, no version
    execution.report(update(2, "succeeded", 3), POLICY, revert=False)  # again: the first counts
    saved(app, execution)
    assert execution.execution.done_at == T0 + timedelta(minutes=1)
    assert execution.observe_version("1.0.0", T0, "telemetry") is False  # timed before "done"
    execution.report(update(3, "succeeded", 5, version="1.0.0"), POLICY, revert=False)
    ((name, rolled),) = [fields(e) for e in saved(app, execution)]
    assert name == "DeploymentExecution.RolledBack"
    assert rolled == {
        "reported_version": "1.0.0",
        "source": "update",
        "seq": 3,
        "done_claimed": True,
        "at": (T0 + timedelta(minutes=5)).isoformat(),
        "revert": False,  # back on the version it came from
    }


def test_already_current_and_refusals(app: FleetApplication) -> None:
    execution = queued()
    assert execution.observe_version("2.0.0", T0, "telemetry") is True
    recorded = [fields(e) for e in saved(app, execution)][-1]
    assert recorded[1]["source"] == "already_current"
    other = queued("revert")
    other.notify(T0, "mqtt", POLICY)
    with pytest.raises(InvalidInput) as stalled:
        other.report(update(1, "failed", 1, kind=FailureKind.STALLED), POLICY, revert=False)
    assert stalled.value.field == "kind"
    with pytest.raises(InvalidInput):
        other.cancel(T0, "")
    other.cancel(T0, "deployment_canceled")
    assert other.execution.state is S.CANCELED
