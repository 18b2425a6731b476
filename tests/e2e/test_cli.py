"""The operators' CLI: token issue, projections rebuild, dynamodb create-tables, events, demo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from typer.testing import CliRunner

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import build_system
from fleetwatch.cli import app
from fleetwatch.demo import RULES, seed_rules
from fleetwatch.settings import DEV_JWT_SECRET, Settings
from infra.config import table_specs
from read_side.device_status import DeviceFilter
from tests.e2e.conftest import free_port
from tests.e2e.graphql_client import subscribe_frame, sync_session
from tests.integration.test_parquet_writer import record, stored
from write_side.alert_commands import DeleteAlertRule
from write_side.alert_service import AlertService
from write_side.commands import RegisterDevice, UpdateDevice
from write_side.user_commands import UpdateMyProfile

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
    result = runner.invoke(app, ["demo", "--devices", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--devices'" in result.output
    assert not sqlite_env.sqlite_path.exists()  # refused before anything was stored


def test_user_erase_shreds_a_users_personal_data(sqlite_env: Settings) -> None:
    """docs/audit.md 19.7, by an operator: by subject or id; bad input changes nothing."""
    system = build_system(sqlite_env)
    try:
        meta = EventMetadata("acme", "user:alice")
        profile = UpdateMyProfile(email="alice@example.com")
        user = system.user_service.update_my_profile("alice", profile, meta).aggregate
    finally:
        system.close()
    for args, message in (
        ([], "exactly one of --user-id and --subject"),
        (["--user-id", "nope"], "'nope' is not a user id"),
        (["--subject", "bob"], "not found"),
    ):
        result = runner.invoke(app, ["user", "erase", "--tenant", "acme", *args])
        assert result.exit_code == 2, result.output
        assert message in result.output
        assert "Traceback" not in result.output
    result = runner.invoke(app, ["user", "erase", "--tenant", "acme", "--subject", "alice"])
    assert result.exit_code == 0, result.output
    assert f"user {user.id} of tenant acme: personal data erased, version 3" in result.stdout
    again = ["user", "erase", "--tenant", "acme", "--user-id", str(user.id)]
    result = runner.invoke(app, again)
    assert result.exit_code == 0, result.output
    assert "already erased (nothing recorded), version 3" in result.stdout
    system = build_system(sqlite_env)
    try:
        assert system.user_service.get("acme", user.id).email is None
    finally:
        system.close()


def test_projections_rebuild_replays_the_feed_to_an_identical_model(sqlite_env: Settings) -> None:
    system = build_system(sqlite_env)
    meta = EventMetadata("acme", "user:alice")
    for i in range(5):
        saved = system.device_service.register(
            RegisterDevice(name=f"d{i}", device_type="pump"), meta
        )
        system.device_service.update(UpdateDevice(device_id=saved.aggregate.id, name=f"e{i}"), meta)
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


def test_projections_rebuild_parquet_writes_the_analytics_files_again(sqlite_env: Settings) -> None:
    """The Parquet tree, a file of it lost: rebuilt from the feed, each reading once."""
    system = build_system(sqlite_env)
    meta = EventMetadata("acme", "user:alice")
    device = system.device_service.register(RegisterDevice(name="b", device_type="boiler"), meta)
    system.workers["device_status"].catch_up()  # the writer takes device types from it
    expected = record(system.app, "acme", device.aggregate.id, 0, 5)
    expected |= record(system.app, "acme", device.aggregate.id, 5, 5)
    system.workers["parquet"].catch_up()
    root = sqlite_env.analytics_path
    assert set(stored(root)) == expected
    next(iter(root.rglob("*.parquet"))).unlink()
    system.close()

    result = runner.invoke(app, ["projections", "rebuild", "parquet"])
    assert result.exit_code == 0, result.output
    assert "parquet: 2 events replayed" in result.output  # it reads telemetry batches only
    assert sorted(stored(root)) == sorted(expected)


def test_projections_status_shows_who_runs_each_worker_and_a_rebuild_waits_for_it(
    sqlite_env: Settings,
) -> None:
    running = build_system(sqlite_env)
    running.start()  # takes every lease
    try:
        result = runner.invoke(app, ["projections", "status"])
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert lines[0].startswith("feed head: ")
        rows = {line.split()[0]: line for line in lines[1:]}
        assert set(rows) == set(running.workers)
        owner = running.supervisor.lease_terms.owner  # type: ignore[union-attr]
        assert all(f"{owner} token 1 for " in row for row in rows.values()), rows
        refused = runner.invoke(app, ["projections", "rebuild", "device_status"])
        assert refused.exit_code == 2
        assert f"device_status runs in {owner}: stop it there" in refused.output
        assert "Traceback" not in refused.output
    finally:
        running.close()
    result = runner.invoke(app, ["projections", "status"])
    assert "not held" in result.output  # released at the stop


def test_events_prints_the_audit_history_as_json_lines(sqlite_env: Settings) -> None:
    system = build_system(sqlite_env)
    system.device_service.register(
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
    made = {line.removeprefix(table_prefix) for line in result.output.splitlines()[1:]}
    for table in ("events", "tracking", "device_status", "ota_timers", "ota_outbox"):
        assert table in made
    # every table the deployment makes (infra/tables.json, the census), those made on first use
    # too: a system started with FLEETWATCH_CREATE_TABLES=false then finds them all
    assert made == {spec["TableName"] for spec in table_specs()}


def test_projections_run_applies_the_feed_in_its_own_process_and_stops_on_sigterm(
    sqlite_env: Settings, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys

    system = build_system(sqlite_env.model_copy(update={"run_projections": False}))
    saved = system.device_service.register(
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


class Output:
    """A subprocess's stdout lines, read by a thread, waited on with a bound."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.ended = False
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait_for(self, text: str, timeout: float) -> None:
        with self.changed:
            self.changed.wait_for(lambda: text in self.lines or self.ended, timeout)
            if text not in self.lines:
                pytest.fail(f"no line {text!r} after {timeout} s:\n" + "\n".join(self.lines))

    def after(self, prefix: str) -> str:
        """The line after the first one starting with `prefix`, or the rest of that line."""
        for i, line in enumerate(self.lines):
            if line.startswith(prefix):
                rest = line.removeprefix(prefix).strip()
                return rest or self.lines[i + 1]
        pytest.fail(f"no line starting {prefix!r}:\n" + "\n".join(self.lines))


def poll(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """`check()`'s first truthy answer, polled (bounded)."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)
    return found


def first_subscription_message(ws_url: str, token: str, query: str) -> dict[str, Any]:
    with sync_session(ws_url, {"Authorization": f"Bearer {token}"}) as ws:
        ws.send(subscribe_frame("1", query))
        deadline = time.monotonic() + 30
        while True:
            message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message["type"] != "ping":
                return dict(message)
            ws.send(json.dumps({"type": "pong"}))


def test_demo_raises_alerts_visible_in_graphql_and_over_a_subscription(tmp_path: Path) -> None:
    """`fleetwatch demo` on a fresh SQLite file, as a newcomer runs it (nothing configured):
    the printed token, query and subscription show raised, unacknowledged alerts in seconds."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("FLEETWATCH_") and key != "REDIS_URL"
    }
    env["FLEETWATCH_SQLITE_PATH"] = str(tmp_path / "demo.sqlite3")
    cli = [sys.executable, "-c", "from fleetwatch.cli import app; app()", "demo"]
    cli += ["--port", str(port)]
    process = subprocess.Popen(
        cli, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output = Output(process)
    try:
        output.wait_for("Ctrl-C to stop.", timeout=30)
        base = output.after("GraphiQL:")
        assert base == f"http://127.0.0.1:{port}/graphql"
        token = output.after("Token (tenant 'demo', role admin, 24 h):")
        query, subscription = output.after("Query:"), output.after("Subscription:")
        headers = {"Authorization": f"Bearer {token}"}
        assert f"curl -s http://127.0.0.1:{port}/alerts" in "\n".join(output.lines)

        def raised() -> list[dict[str, Any]]:
            answer = httpx.post(base, json={"query": query}, headers=headers, timeout=10).json()
            assert "errors" not in answer, answer
            nodes = [edge["node"] for edge in answer["data"]["alerts"]["edges"]]
            return [node for node in nodes if node["state"] == "OPEN"]

        alerts = poll(raised, timeout=30, what="a raised alert in GraphQL")
        assert {a["ruleName"] for a in alerts} <= {"Demo: too hot", "Demo: humid"}
        message = first_subscription_message(base.replace("http", "ws", 1), token, subscription)
        assert message["type"] == "next", message
        change = message["payload"]["data"]["alertChanged"]
        assert change["alert"]["ruleName"] in {"Demo: too hot", "Demo: humid"}
        rest = httpx.get(base.removesuffix("/graphql") + "/alerts", headers=headers, timeout=10)
        assert rest.status_code == 200
        assert all(item["acknowledgedBy"] is None for item in rest.json()["items"])
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        process.wait(timeout=30)
        output.thread.join(timeout=10)
    assert process.returncode == 0, "\n".join(output.lines)
    assert "Traceback" not in "\n".join(output.lines)


def test_demo_rules_are_seeded_once_and_a_deleted_one_again(
    sqlite_env: Settings, tmp_path: Path
) -> None:
    system = build_system(sqlite_env)
    state = tmp_path / "demo-acme.json"
    try:
        first = seed_rules(system, "acme", state)
        assert len(first) == len(RULES)
        assert seed_rules(system, "acme", state) == first  # a rerun: the same rules
        service = AlertService(system.app)
        service.delete_rule(DeleteAlertRule(rule_id=first[0]), EventMetadata("acme", "user:a"))
        again = seed_rules(system, "acme", state)
        assert again[1:] == first[1:]
        assert again[0] != first[0]
        assert not service.get_rule("acme", again[0]).deleted
    finally:
        system.close()
