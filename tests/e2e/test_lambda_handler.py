"""The AWS Lambda entry points (`fleetwatch.lambdas`): API Gateway HTTP API (payload v2) events
through the same app, and IoT Core topic-rule events through a system built from the
environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.auth import issue_token
from event_store.envelope import EventMetadata
from fleetwatch import lambdas
from fleetwatch.settings import Settings
from fleetwatch.system import build_system
from write_side.commands import RegisterDevice

SECRET = "lambda-test-secret-of-sufficient-length"


def http_event(method: str, path: str, token: str | None, body: Any = None) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
            "requestId": "r1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "25/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795608000000,
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


@pytest.fixture
def lambda_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FLEETWATCH_STORE", "sqlite")
    monkeypatch.setenv("FLEETWATCH_SQLITE_PATH", str(tmp_path / "lambda.sqlite3"))
    monkeypatch.setenv("FLEETWATCH_JWT_SECRET", SECRET)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(lambdas, "_adapter", None)
    monkeypatch.setattr(lambdas, "_ingest", None)
    yield
    adapter = lambdas._adapter
    if adapter is not None:
        adapter.app.state.system.close()  # type: ignore[attr-defined]
    if lambdas._ingest is not None:
        lambdas._ingest.close()


def test_register_then_get_through_lambda_events(lambda_env: None) -> None:
    token = issue_token(Settings(jwt_secret=SECRET), "alice", "acme", ["operator"], 300)
    created = lambdas.api_handler(
        http_event("POST", "/devices", token, {"name": "pump", "deviceType": "pump"}), None
    )
    assert created["statusCode"] == 201, created
    device = json.loads(created["body"])
    fetched = lambdas.api_handler(http_event("GET", f"/devices/{device['id']}", token), None)
    assert fetched["statusCode"] == 200
    assert json.loads(fetched["body"])["name"] == "pump"


def test_lambda_refuses_a_missing_token_with_a_typed_error(lambda_env: None) -> None:
    response = lambdas.api_handler(http_event("GET", "/devices", None), None)
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"]["code"] == "UNAUTHENTICATED"


def test_an_iot_core_event_is_ingested_by_a_system_built_from_the_environment(
    lambda_env: None,
) -> None:
    registering = build_system(Settings())
    try:
        saved = registering.device_service.register(
            RegisterDevice(name="pump", device_type="pump"), EventMetadata("acme", "user:alice")
        )
    finally:
        registering.close()
    device = saved.aggregate.id
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    message = {
        "device_id": str(device), "message_id": "m1", "timestamp": now,
        "metrics": {"temperature": 21.5}, "client_id": f"acme_{device}",
    }  # fmt: skip
    result = lambdas.iot_core_handler(message, None)["results"][0]
    assert result["status"] == "accepted", result
    assert lambdas.iot_core_handler(message, None)["results"][0]["status"] == "duplicate"
