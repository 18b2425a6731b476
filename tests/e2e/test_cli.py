"""The operators' CLI: token issue, projections rebuild, dynamodb create-tables, events."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import build_system
from fleetwatch.cli import app
from fleetwatch.settings import DEV_JWT_SECRET, Settings
from read_side.device_status import DeviceFilter
from write_side.commands import RegisterDevice, UpdateDevice

runner = CliRunner()


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("FLEETWATCH_STORE", "sqlite")
    monkeypatch.setenv("FLEETWATCH_SQLITE_PATH", str(tmp_path / "cli.sqlite3"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("FLEETWATCH_JWT_SECRET", raising=False)
    return Settings()


def test_token_issue_prints_a_verifiable_token(sqlite_env: Settings) -> None:
    result = runner.invoke(app, ["token", "issue", "--tenant", "acme", "--role", "viewer"])
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.stdout.strip(), DEV_JWT_SECRET, algorithms=["HS256"])
    assert claims["tenant_id"] == "acme"
    assert claims["roles"] == ["viewer"]


def test_bad_cli_input_is_a_one_line_error_without_traceback(sqlite_env: Settings) -> None:
    result = runner.invoke(app, ["token", "issue", "--role", "superuser"])
    assert result.exit_code == 2
    assert "unknown role" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["projections", "rebuild", "nope"])
    assert result.exit_code == 2
    assert "unknown projection" in result.output


def test_projections_rebuild_replays_the_feed_to_an_identical_model(sqlite_env: Settings) -> None:
    system = build_system(sqlite_env)
    meta = EventMetadata("acme", "user:alice")
    for i in range(5):
        saved = system.app.register_device(RegisterDevice(name=f"d{i}", device_type="pump"), meta)
        system.app.update_device(UpdateDevice(device_id=saved.aggregate.id, name=f"e{i}"), meta)
    system.workers["device_status"].catch_up()
    before = system.devices.list("acme", DeviceFilter(), 100, None).items
    system.close()

    result = runner.invoke(app, ["projections", "rebuild", "device_status"])
    assert result.exit_code == 0, result.output
    assert "10 events replayed" in result.output

    system = build_system(sqlite_env)
    try:
        assert system.devices.list("acme", DeviceFilter(), 100, None).items == before
    finally:
        system.close()


def test_events_prints_the_audit_history_as_json_lines(sqlite_env: Settings) -> None:
    system = build_system(sqlite_env)
    system.app.register_device(
        RegisterDevice(name="p", device_type="pump"), EventMetadata("acme", "user:alice")
    )
    system.close()
    result = runner.invoke(app, ["events", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.strip().splitlines()
    event = json.loads(line)
    assert (event["type"], event["actor"], event["tenant_id"]) == (
        "Device.Registered",
        "user:alice",
        "acme",
    )
    other = runner.invoke(app, ["events", "--tenant", "other"])
    assert other.stdout.strip() == ""


def test_dynamodb_create_tables(
    dynamodb_endpoint: str, table_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    result = runner.invoke(
        app,
        [
            "dynamodb",
            "create-tables",
            "--endpoint-url",
            dynamodb_endpoint,
            "--prefix",
            table_prefix,
        ],
    )
    assert result.exit_code == 0, result.output
    for table in ("events", "tracking", "device_status"):
        assert f"{table_prefix}{table}" in result.output


def test_projections_run_applies_the_feed_in_its_own_process_and_stops_on_sigterm(
    sqlite_env: Settings, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys

    system = build_system(sqlite_env.model_copy(update={"run_projections": False}))
    saved = system.app.register_device(
        RegisterDevice(name="p", device_type="pump"), EventMetadata("acme", "user:alice")
    )
    env = {**os.environ, "FLEETWATCH_RUN_PROJECTIONS": "true"}
    cli = [sys.executable, "-c", "from fleetwatch.cli import app; app()", "projections", "run"]
    process = subprocess.Popen(cli, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert system.wait_for(saved.position, timeout=30), "the worker process did not catch up"
        assert system.devices.get("acme", saved.aggregate.id) is not None
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        system.close()
    assert process.returncode == 0, output.decode()
    assert b"Traceback" not in output
