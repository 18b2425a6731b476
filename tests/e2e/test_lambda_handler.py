"""The AWS Lambda entry point: API Gateway HTTP API (payload v2) events through the same app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import api.lambda_handler as lambda_handler
from api.auth import issue_token
from fleetwatch.settings import Settings

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
    monkeypatch.setattr(lambda_handler, "_adapter", None)
    yield
    adapter = lambda_handler._adapter
    if adapter is not None:
        adapter.app.state.system.close()  # type: ignore[attr-defined]


def test_register_then_get_through_lambda_events(lambda_env: None) -> None:
    token = issue_token(Settings(jwt_secret=SECRET), "alice", "acme", ["operator"], 300)
    created = lambda_handler.handler(
        http_event("POST", "/devices", token, {"name": "pump", "deviceType": "pump"}), None
    )
    assert created["statusCode"] == 201, created
    device = json.loads(created["body"])
    fetched = lambda_handler.handler(http_event("GET", f"/devices/{device['id']}", token), None)
    assert fetched["statusCode"] == 200
    assert json.loads(fetched["body"])["name"] == "pump"


def test_lambda_refuses_a_missing_token_with_a_typed_error(lambda_env: None) -> None:
    response = lambda_handler.handler(http_event("GET", "/devices", None), None)
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"]["code"] == "UNAUTHENTICATED"
