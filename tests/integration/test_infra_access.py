"""What the CDK app deploys, measured against what the code does on DynamoDB Local:

- the tables: `infra/tables.json` is the census of the tables a started system makes
  (scripts/table_census.py); a table added to the code and not to the app fails here;
- the roles: the ingestion, processes, projector and scheduled functions' code, run as the
  functions run it (tables made beforehand, no projections in ingestion; a reading over a
  rule's threshold so that an alert is raised, queued and sent), and the jobs function's (a
  device's job update through IoT Core), writes only the tables their roles may write
  (`infra.config.ACCESS`). Every DynamoDB call is observed at the boto3 boundary.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.client
import pytest

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import build_system
from fleetwatch.lambdas import SCHEDULED, project, run_scheduled
from fleetwatch.settings import Settings
from fleetwatch.wiring import LAMBDA_PROCESSES, LAMBDA_PROJECTOR, make_tables_made_on_first_use
from infra.config import ACCESS, TABLES_FILE, writable
from ingestion import iot_core, iot_jobs
from ingestion.settings import IngestSettings
from write_side.alert_commands import CreateAlertRule
from write_side.alert_rules import RuleDefinition, Scope, Threshold
from write_side.commands import RegisterDevice
from write_side.credentials import IssueDeviceCredential
from write_side.telemetry_log import SNAPSHOT_INTERVAL
from write_side.user_commands import UpdateMyProfile

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from table_census import census  # noqa: E402

from tests.integration.device_jobs_fixtures import job, update  # noqa: E402

pytestmark = pytest.mark.dynamodb
META = EventMetadata("acme", "user:alice")
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def test_the_app_deploys_every_table_the_code_makes(dynamodb_endpoint: str) -> None:
    made = census(dynamodb_endpoint)
    deployed = json.loads(TABLES_FILE.read_text())
    assert made == deployed, (
        "the tables differ from infra/tables.json: run "
        "`.venv/bin/python scripts/table_census.py <DynamoDB Local URL> > infra/tables.json`"
    )


class Calls:
    """(operation, table without the prefix) of every DynamoDB call made while recording."""

    def __init__(self, prefix: str) -> None:
        self.prefix, self.seen = prefix, set[tuple[str, str]]()
        self.recording = False
        self._lock = threading.Lock()

    def observe(self, operation: str, params: dict[str, Any]) -> None:
        if not self.recording:
            return
        tables = []
        if "TableName" in params:
            tables.append(params["TableName"])
        tables += list(params.get("RequestItems", {}))
        for item in params.get("TransactItems", []):
            tables += [body["TableName"] for body in item.values()]
        with self._lock:
            self.seen |= {(operation, t.removeprefix(self.prefix)) for t in tables}

    def written(self) -> set[str]:
        return {table for operation, table in self.seen if operation in WRITES}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, table_prefix: str) -> Iterator[Calls]:
    observed = Calls(table_prefix)
    original: Callable[..., Any] = botocore.client.BaseClient._make_api_call

    def make_api_call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            observed.observe(operation, params)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
    return observed


def _settings(endpoint: str, prefix: str, *, create: bool) -> Settings:
    return Settings(
        store="dynamodb",
        dynamodb_endpoint_url=endpoint,
        dynamodb_table_prefix=prefix,
        create_tables=create,
        run_projections=False,
    )


def test_each_function_writes_only_what_its_role_may(
    dynamodb_endpoint: str, table_prefix: str, calls: Calls
) -> None:
    setup = build_system(_settings(dynamodb_endpoint, table_prefix, create=True))
    setup.start()  # every table made, as the stack makes them before any function runs
    make_tables_made_on_first_use(setup.app)
    device = setup.device_service.register(RegisterDevice(name="pump", device_type="pump"), META)
    device_id = device.aggregate.id
    token = setup.device_service.issue_credential(IssueDeviceCredential(device_id=device_id), META)
    # more read models' events for the projector: an alert rule, a user with personal data
    definition = RuleDefinition(
        name="hot",
        scope=Scope(device_id=device_id),
        severity="warning",
        condition=Threshold(metric="temperature", op=">", value=80),
    )
    setup.alert_service.create_rule(CreateAlertRule(definition=definition), META)
    profile = UpdateMyProfile(email="alice@example.com", display_name="Alice")
    setup.user_service.update_my_profile("alice", profile, META)
    setup.close()

    calls.recording = True
    settings = _settings(dynamodb_endpoint, table_prefix, create=False)
    ingest = build_system(settings, IngestSettings(ingest_flush_ms=1))
    assert ingest.ingest is not None
    ingest.ingest.start()
    try:
        # One commit each, past the telemetry stream's snapshot interval (a snapshot stored).
        for i in range(SNAPSHOT_INTERVAL + 1):
            message = {
                "device_id": str(device_id),
                "message_id": f"m{i}",
                "timestamp": datetime.now(UTC).isoformat(),
                "metrics": {"temperature": 21.5 if i < SNAPSHOT_INTERVAL else 90.0},
                "token": token.token,
            }
            assert iot_core.handle(ingest.ingest, message)["results"][0]["status"] == "accepted"
        unknown = {**message, "device_id": str(uuid.uuid4()), "message_id": "x"}
        assert iot_core.handle(ingest.ingest, unknown)["results"][0]["status"] == "rejected"
    finally:
        ingest.ingest.close()
        ingest.close()
    ingest_writes = calls.written()
    assert {"events", "snapshots"} <= ingest_writes  # the telemetry and a snapshot stored
    refused = {t for t in ingest_writes if not writable(ACCESS["ingest"][1], t)}
    assert not refused, refused

    calls.seen.clear()
    processes = build_system(_settings(dynamodb_endpoint, table_prefix, create=False))
    try:
        project(processes, LAMBDA_PROCESSES)
        run_scheduled(processes, ["ota_timers", "ota_jobs"])
    finally:
        processes.close()
    processes_writes = calls.written()
    assert {"events", "ledger", "tracking"} <= processes_writes  # the alert, its ledger entry
    refused = {t for t in processes_writes if not writable(ACCESS["processes"][1], t)}
    assert not refused, refused

    calls.seen.clear()
    projector = build_system(_settings(dynamodb_endpoint, table_prefix, create=False))
    try:
        positions = project(projector, LAMBDA_PROJECTOR)["positions"]
    finally:
        projector.close()
    assert all(p > 0 for p in positions.values())
    projector_writes = calls.written()

    calls.seen.clear()
    scheduled = build_system(_settings(dynamodb_endpoint, table_prefix, create=False))
    try:
        done = run_scheduled(scheduled, SCHEDULED)
    finally:
        scheduled.close()
    assert done["notifications"]["sent"] == 1
    scheduled_writes = calls.written()
    assert "notification_outbox" in scheduled_writes
    refused = {t for t in scheduled_writes if not writable(ACCESS["scheduled"][1], t)}
    assert not refused, refused
    assert {
        "tracking",
        "device_status",
        "telemetry_raw",
        "alert_rules",
        "alerts",
        "users",
        "notification_outbox",  # the alert's email to alice
    } <= projector_writes
    refused = {t for t in projector_writes if not writable(ACCESS["projector"][1], t)}
    assert not refused, refused


def test_the_jobs_function_writes_only_what_its_role_may(
    dynamodb_endpoint: str, table_prefix: str, calls: Calls, tmp_path: Path
) -> None:
    settings = _settings(dynamodb_endpoint, table_prefix, create=True)
    settings = settings.model_copy(update={"blob_dir": tmp_path / "blobs"})
    setup = build_system(settings)
    setup.start()
    make_tables_made_on_first_use(setup.app)
    taken = job(setup, channel="mqtt")
    setup.close()

    calls.recording = True
    jobs = build_system(settings.model_copy(update={"create_tables": False}))
    answers: list[tuple[str, bytes]] = []
    try:
        assert jobs.device_jobs is not None
        event = update(1, "downloading") | {
            "device_id": str(taken.device_id),
            "execution_id": str(taken.execution_id),
            "client_id": f"acme_{taken.device_id}",
        }
        done = iot_jobs.handle(jobs.device_jobs, lambda *answer: answers.append(answer), event)
    finally:
        jobs.close()
    assert done["answer"] == {"seq": 1, "duplicate": False}
    assert len(answers) == 1
    jobs_writes = calls.written()
    assert "events" in jobs_writes  # the execution's update
    refused = {t for t in jobs_writes if not writable(ACCESS["jobs"][1], t)}
    assert not refused, refused
