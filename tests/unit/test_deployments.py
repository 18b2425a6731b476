"""The Deployment aggregate (docs/firmware.md sections 12.2 and 12.6): the plan it records, its
lifecycle (waves, approval, soak and health gate, pause, resume, abort, cancel, completion),
and a round trip through the application's store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from event_store.envelope import EventMetadata
from write_side.application import FleetApplication
from write_side.deployment_commands import HealthGateInput, RateInput, WaveInput, _wave
from write_side.deployment_errors import DeploymentFinished, InvalidTransition
from write_side.deployment_health import HealthCheck, HealthGate
from write_side.deployment_plan import DeploymentPlan, RollbackPolicy
from write_side.deployment_rate import RateLimit
from write_side.deployment_states import DeploymentStatus
from write_side.deployment_target import Target
from write_side.deployment_waves import FailureAction, WaveSpec, WaveTally
from write_side.deployment_windows import parse_window
from write_side.deployments import Deployment
from write_side.errors import InvalidInput

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
S = DeploymentStatus
CANARY = (
    WaveSpec(percent=5, soak=timedelta(hours=1)),
    WaveSpec(percent=20, approval=True, failure_count=3, on_failure=FailureAction.ABORT),
    WaveSpec(),
)


def plan(**changes: object) -> DeploymentPlan:
    fields: dict[str, object] = {
        "seed": 42,
        "waves": CANARY,
        "rate": RateLimit(10, 100, 2.0, 50),
        "windows": (parse_window("02:00", "04:00", [0, 1, 2], "windows[0]"),),
        "default_time_zone": "Europe/Berlin",
        "health_gate": HealthGate("temp", metric_margin_percent=3),
        "rollback": RollbackPolicy(revert_succeeded_on_abort=True),
        "start_at": T0,
    }
    return DeploymentPlan(**{**fields, **changes})  # type: ignore[arg-type]


def new_deployment(**changes: object) -> Deployment:
    return Deployment.create(
        tenant_id="acme",
        name=" pumps to 2.0 ",
        firmware_id="fw-1",
        firmware_version="2.0.0",
        target=Target(tags=("pumps",), dynamic=True),
        plan=plan(**changes),
        created_by="user:alice",
    )


def names(deployment: Deployment) -> list[str]:
    return [type(e).__qualname__.split(".")[1] for e in deployment.collect_events()]


def running() -> Deployment:
    deployment = new_deployment()
    deployment.start(T0, targets=200)
    deployment.start_wave(0, members=10, at=T0)
    deployment.collect_events()
    return deployment


def test_the_plan_is_recorded_as_json_values_and_read_back_the_same() -> None:
    deployment = new_deployment()
    (created,) = deployment.collect_events()
    assert created.plan["seed"] == 42  # type: ignore[attr-defined]
    assert created.plan["windows"] == [  # type: ignore[attr-defined]
        {"start": "02:00", "end": "04:00", "days": [0, 1, 2]}
    ]
    assert DeploymentPlan.from_payload(plan().to_payload()) == plan()
    assert (deployment.name, deployment.status, deployment.plan) == (
        "pumps to 2.0",
        S.SCHEDULED,
        plan(),
    )


def test_bad_input_names_its_field_and_records_nothing() -> None:
    for make, field in (
        (Target, "target"),
        (lambda: plan(seed=-1), "seed"),
        (lambda: plan(waves=(WaveSpec(percent=5),)), "waves[0].size"),
        (lambda: plan(default_time_zone="Mars/Olympus"), "defaultTimeZone"),
        (lambda: plan(start_at=datetime(2026, 3, 1)), "startAt"),
        (lambda: new_deployment(seed=2**63), "seed"),
    ):
        with pytest.raises(InvalidInput) as raised:
            make()
        assert raised.value.field == field
    with pytest.raises(InvalidInput) as named:
        Deployment.create(
            tenant_id="acme",
            name=" ",
            firmware_id="fw",
            firmware_version="1",
            target=Target(tags=("a",)),
            plan=plan(),
            created_by="user:alice",
        )
    assert named.value.field == "name"


def test_it_starts_at_its_start_time_and_not_empty_unless_dynamic() -> None:
    deployment = new_deployment(start_at=T0 + timedelta(hours=1))
    with pytest.raises(InvalidTransition):
        deployment.start(T0, targets=5)
    deployment.start(T0 + timedelta(hours=1), targets=0)  # dynamic: devices may join later
    assert deployment.status is S.RUNNING
    snapshot = Deployment.create(
        tenant_id="acme",
        name="fixed",
        firmware_id="fw",
        firmware_version="1",
        target=Target(device_ids=("d1",)),
        plan=plan(),
        created_by="user:alice",
    )
    with pytest.raises(InvalidInput):
        snapshot.start(T0, targets=0)


def test_a_wave_is_promoted_only_after_its_soak_passed_the_health_gate() -> None:
    deployment = running()
    tally = WaveTally(members=10, succeeded=10)
    with pytest.raises(InvalidTransition):
        deployment.promote(0, tally, T0)  # no health check yet
    deployment.start_soak(0, until=T0 + timedelta(hours=1))
    deployment.record_health(0, HealthCheck(True, (), {"updated": {}}), T0 + timedelta(hours=1))
    deployment.promote(0, tally, T0 + timedelta(hours=1))
    assert names(deployment) == ["SoakStarted", "HealthChecked", "WavePromoted"]


def test_a_failed_health_gate_pauses_with_its_evidence() -> None:
    deployment = running()
    deployment.start_soak(0, until=T0)
    evidence = {"updated": {"alert_rate": 0.5}, "control": {"alert_rate": 0.1}}
    deployment.record_health(0, HealthCheck(False, ("alert_rate",), evidence), T0)
    events = deployment.collect_events()
    assert [type(e).__qualname__ for e in events][-1] == "Deployment.Paused"
    assert events[-1].by == "health_gate"  # type: ignore[attr-defined]
    assert events[-1].evidence == evidence  # type: ignore[attr-defined]
    assert deployment.status is S.PAUSED
    with pytest.raises(InvalidTransition):
        deployment.promote(0, WaveTally(10, 10), T0)  # paused: nothing moves
    deployment.resume("user:alice", T0)
    assert deployment.status is S.RUNNING


def test_a_wave_needing_approval_waits_for_a_person() -> None:
    deployment = running()
    deployment.start_soak(0, until=T0)
    deployment.record_health(0, HealthCheck(True, (), {}), T0)
    deployment.promote(0, WaveTally(10, 10), T0)
    deployment.start_wave(1, members=40, at=T0)
    assert deployment.status is S.AWAITING_APPROVAL
    with pytest.raises(InvalidTransition):
        deployment.approve(2, "user:bob", T0)
    deployment.approve(1, "user:bob", T0)
    deployment.start_wave(1, members=40, at=T0)
    assert (deployment.status, deployment.wave) == (S.RUNNING, 1)
    assert names(deployment)[-3:] == ["WaveApprovalRequested", "WaveApproved", "WaveStarted"]


def test_waves_start_in_order() -> None:
    deployment = running()
    with pytest.raises(InvalidTransition):
        deployment.start_wave(1, members=40, at=T0)  # wave 0 not promoted
    with pytest.raises(InvalidTransition):
        deployment.start_wave(2, members=150, at=T0)


def test_pausing_twice_records_once_and_resume_returns_to_where_it_was() -> None:
    deployment = new_deployment()
    assert deployment.pause("user", "look first", {}, T0)
    assert not deployment.pause("user", "again", {}, T0)
    deployment.resume("user:alice", T0)
    assert deployment.status is S.SCHEDULED
    with pytest.raises(InvalidTransition):
        deployment.resume("user:alice", T0)
    with pytest.raises(InvalidInput):
        deployment.pause("cosmic rays", "", {}, T0)


def test_abort_cancel_and_complete_end_it_for_good() -> None:
    aborted = running()
    aborted.abort("failure_threshold", {"failed": 3}, T0)
    (event,) = aborted.collect_events()
    assert event.revert_succeeded is True  # type: ignore[attr-defined]  # the rollback policy
    for command in (
        lambda: aborted.cancel("user:alice", None, T0),
        lambda: aborted.pause("user", "", {}, T0),
        lambda: aborted.resume("user:alice", T0),
        lambda: aborted.approve(1, "user:bob", T0),
    ):
        with pytest.raises(DeploymentFinished):
            command()
    canceled = new_deployment()
    canceled.cancel("user:alice", "wrong build", T0)
    assert canceled.status is S.CANCELED
    single = new_deployment(waves=(WaveSpec(),), health_gate=None)
    single.start(T0, targets=3)
    single.start_wave(0, members=3, at=T0)
    with pytest.raises(InvalidTransition):
        single.promote(0, WaveTally(3, 3), T0)  # the last wave completes instead
    single.complete(succeeded=3, failed=0, canceled=0, at=T0)
    assert single.status is S.COMPLETED


def test_it_round_trips_through_the_store() -> None:
    app = FleetApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    try:
        meta = EventMetadata(tenant_id="acme", actor="user:alice")
        deployment = new_deployment()
        deployment.start(T0, targets=200)
        deployment.start_wave(0, members=10, at=T0)
        deployment.start_soak(0, until=T0 + timedelta(hours=1))
        deployment.record_health(0, HealthCheck(False, ("metric",), {"metric": "temp"}), T0)
        app.commit(deployment, meta)
        loaded = app.load(Deployment, "acme", deployment.id)
        assert (loaded.status, loaded.wave, loaded.plan) == (S.PAUSED, 0, plan())
        assert loaded.version == deployment.version == 6
    finally:
        app.close()


def test_a_plan_from_an_empty_input_has_the_domains_defaults() -> None:
    """The inputs take their defaults from the domain's values: a wave, a rate and a gate built
    from inputs that name only what is required equal the domain's own defaults."""
    assert _wave(WaveInput()) == WaveSpec()
    assert RateLimit(**RateInput(base_per_minute=7).model_dump()) == RateLimit(7)
    assert HealthGate(**HealthGateInput(metric="t").model_dump()) == HealthGate("t")
