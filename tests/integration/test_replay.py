"""`fleetwatch replay` on each store (docs/audit.md 19.6): each read model rebuilt in
scratch up to its live checkpoint has the live model's checksum; a live row changed behind the
projection's back is named, model and key, with exit code 1."""

from __future__ import annotations

import shlex
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from event_store.dynamodb.client import create_client
from event_store.envelope import EventMetadata
from fleetwatch.as_of import kept_where
from fleetwatch.bootstrap import System, build_system
from fleetwatch.cli import app
from fleetwatch.replay_build import ScratchDatastore
from fleetwatch.settings import Settings
from fleetwatch.wiring import MODELS_BY_NAME, READ_MODELS
from ingestion.settings import IngestSettings
from write_side.alert_commands import CreateAlertRule
from write_side.alert_rules import parse_rule_definition
from write_side.commands import RegisterDevice, UpdateDevice
from write_side.credentials import IssueDeviceCredential
from write_side.ingestion import Submission
from write_side.user_commands import UpdateMyProfile

META = EventMetadata("acme", "user:alice")
RULE = {
    "name": "too hot",
    "scope": {"device_type": "pump"},
    "severity": "critical",
    "condition": {"kind": "threshold", "metric": "temperature", "op": ">", "value": 80},
}
runner = CliRunner()


@pytest.fixture
def settings(store_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """`store_settings` (each store) as the environment the command reads its settings from."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    for name, value in store_settings.model_dump(exclude_none=True).items():
        if name in {"store", "sqlite_path", "dynamodb_endpoint_url", "dynamodb_table_prefix"}:
            monkeypatch.setenv(f"FLEETWATCH_{name.upper()}", str(value))
        elif name == "analytics_dir":
            monkeypatch.setenv("FLEETWATCH_ANALYTICS_DIR", str(value))
    assert Settings().store == store_settings.store
    return store_settings


def tamper(settings: Settings, device: uuid.UUID) -> None:
    """Rename the device in the live device-status model, behind the projection's back."""
    if settings.store == "sqlite":
        with sqlite3.connect(settings.read_models_path) as db:
            changed = db.execute(
                "UPDATE device_status SET name = 'tampered' WHERE device_id = ?", (device.hex,)
            ).rowcount
        assert changed == 1
        return
    client = create_client(settings.dynamodb_endpoint_url, settings.dynamodb_region)
    client.update_item(
        TableName=f"{settings.dynamodb_table_prefix}device_status",
        Key={"tenant_id": {"S": "acme"}, "device_id": {"S": device.hex}},
        UpdateExpression="SET #n = :n",
        ConditionExpression="attribute_exists(device_id)",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":n": {"S": "tampered"}},
    )


def workload(system: System) -> uuid.UUID:
    """A user, two pumps (one renamed), a rule, readings of both, one over the threshold: an
    alert. (No firmware: that model stays empty, at checkpoint 0.)"""
    system.user_service.update_my_profile(
        "user:alice", UpdateMyProfile(display_name="Alice", email="alice@example.com"), META
    )
    system.alert_service.create_rule(CreateAlertRule(definition=parse_rule_definition(RULE)), META)
    devices = []
    for name in ("p1", "p2"):
        saved = system.device_service.register(RegisterDevice(name=name, device_type="pump"), META)
        token = system.device_service.issue_credential(
            IssueDeviceCredential(device_id=saved.aggregate.id), META
        ).token
        devices.append((saved.aggregate.id, token))
    system.device_service.update(UpdateDevice(device_id=devices[0][0], name="p1b"), META)
    now = datetime.now(UTC)
    submissions = [
        Submission(
            {
                "device_id": str(device),
                "message_id": f"{device.hex}-{i}",
                "timestamp": (now - timedelta(seconds=30 - i)).isoformat(),
                "metrics": {"temperature": 90.0 if device == devices[0][0] else 20.0 + i},
            },
            "http",
            token,
        )
        for i in range(5)
        for device, token in devices
    ]
    assert system.ingest is not None
    assert all(r.status == "accepted" for r in system.ingest.ingest(submissions))
    deadline = time.monotonic() + 20
    while not any(e.type == "Alert.Raised" for e in system.event_log.read_feed(limit=1000)):
        assert time.monotonic() < deadline, "no alert raised"
        time.sleep(0.05)
    assert system.wait_for(system.event_log.head(), timeout=20)
    return devices[0][0]


def test_replay_proves_each_read_model_and_names_a_changed_row(settings: Settings) -> None:
    system = build_system(settings, IngestSettings(ingest_flush_ms=5))
    system.start()
    try:
        device = workload(system)
    finally:
        system.close()

    result = runner.invoke(app, ["replay"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split()[:2] for line in lines] == [["OK", m.name] for m in READ_MODELS]
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # no rows
    for line in lines:
        _, name, digest, at = line.split()
        assert len(digest) == 64
        unused = name in {"firmware", "exports"}  # the workload neither uploads nor exports
        assert (digest == empty, at == "@0") == (unused, unused), line
    tamper(settings, device)

    # Quiesced (on DynamoDB the models' leases taken while scanned; nobody runs them here).
    result = runner.invoke(app, ["replay", "--quiesce", "--models", "users,device_status"])
    assert result.exit_code == 1, result.output
    assert result.stdout.strip().splitlines() == [
        f"OK users {lines[3].split()[2]} {lines[3].split()[3]}",
        f"DIFF device_status first key device_status/acme/{device.hex}",
    ]
    assert "tampered" in result.stderr
    assert scratch_left(settings) == []

    # Kept (no --to): the replayed model, at the checkpoint it was compared at, DIFF or not.
    kept = runner.invoke(app, ["replay", "--keep", "--models", "device_status"])
    assert kept.exit_code == 1, kept.output
    where = kept_in(kept.stderr, "replayed")
    browse = next(line for line in kept.stderr.splitlines() if line.startswith("browse them"))
    assert shlex.split(browse.split(": ", 1)[1]) == [
        "fleetwatch",
        "serve",
        "--as-of",
        kept_where(where),
    ]
    assert as_of(settings, where).get("acme", device).name == "p1b"  # not "tampered"
    assert scratch_left(settings) == []  # kept is not scratch


def kept_in(stderr: str, what: str) -> str:
    """Where the replay said it kept the read models (`what`: "replayed", or "as of @")."""
    line = next(line for line in stderr.splitlines() if line.startswith("kept: "))
    assert line.startswith(f"kept: the read models {what}"), line
    return line.split(" in ", 1)[1].strip()


def scratch_left(settings: Settings) -> list[str]:
    """Scratch stores left behind: files beside the live one, or tables under the prefix."""
    if settings.store == "sqlite":
        return [p.name for p in settings.read_models_path.parent.glob("replay-*")]
    client = create_client(settings.dynamodb_endpoint_url, settings.dynamodb_region)
    scratch = f"{settings.dynamodb_table_prefix}replay-"
    pages = client.get_paginator("list_tables").paginate()
    return [t for page in pages for t in page["TableNames"] if t.startswith(scratch)]


def test_unknown_model_is_a_one_line_error() -> None:
    result = runner.invoke(app, ["replay", "--models", "device_status,nope"])
    assert result.exit_code == 2
    assert "unknown read model" in result.output
    assert "Traceback" not in result.output


def as_of(settings: Settings, where: str) -> Any:
    """The device-status reader of a kept replay (`where`, as the command printed it)."""
    _, reader = MODELS_BY_NAME["device_status"].dynamodb
    if settings.store == "dynamodb":
        prefix = where.removeprefix("DynamoDB tables ").removesuffix("*")
        return reader(
            create_client(settings.dynamodb_endpoint_url, settings.dynamodb_region), prefix
        )
    _, sqlite_reader = MODELS_BY_NAME["device_status"].sqlite
    path = Path(where.replace("<model>", "device_status"))
    return sqlite_reader(ScratchDatastore(str(path)))
