"""POST /ingest: per-message and per-reading results; typed errors, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ingestion.buffer import IngestService
from ingestion.http import router_for
from tests.unit.test_ingestion_handler import Fleet, message


@pytest.fixture
def fleet() -> Fleet:
    return Fleet()


@pytest.fixture
def client(fleet: Fleet) -> Iterator[TestClient]:
    service = IngestService(fleet.handler, max_pending=5, flush_interval=0.001)
    service.start()
    app = FastAPI()
    app.include_router(router_for(SimpleNamespace(ingest=service)))
    with TestClient(app) as client:
        yield client
    service.close(timeout=1)


def post(client: TestClient, body: Any, token: str | None = None, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Device {token}"} if token else {}
    return client.post("/ingest", json=body, headers=headers, **kwargs)


def test_an_accepted_batch_is_200_with_one_result_per_message(
    fleet: Fleet, client: TestClient
) -> None:
    device, token = fleet.device()
    body = {"messages": [message(device, "a"), message(device, "b"), message(device, "a")]}
    response = post(client, body, token)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "accepted", "duplicate"]
    assert results[0]["messageId"] == "a"
    assert results[0]["deviceId"] == str(device)


def test_partial_rejections_are_207_and_say_why(fleet: Fleet, client: TestClient) -> None:
    device, token = fleet.device()
    bad_reading = message(device, "a", metrics={"temperature": "hot", "humidity": 40})
    body = {"messages": [bad_reading, {"message_id": "x"}, 17]}
    response = post(client, body, token)
    assert response.status_code == 207
    first, second, third = response.json()["results"]
    assert first["status"] == "accepted"
    assert first["rejections"] == [
        {"metric": "temperature", "code": "NOT_A_NUMBER", "detail": "str is not a number"}
    ]
    assert second["code"] == third["code"] == "INVALID_TELEMETRY"


def test_gateways_send_a_token_per_message(fleet: Fleet, client: TestClient) -> None:
    (d1, t1), (d2, t2) = fleet.device(), fleet.device()
    body = {"messages": [message(d1, "a", token=t1), message(d2, "a", token=t2)]}
    assert post(client, body).status_code == 200


def test_no_authenticated_message_is_401(fleet: Fleet, client: TestClient) -> None:
    device, _ = fleet.device()
    response = post(client, {"messages": [message(device, "a")]}, "fwd1.wrong")
    assert response.status_code == 401
    assert response.json()["results"][0]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{oops", 400, "INVALID_JSON"),
        (b"[]", 422, "NOT_A_BATCH"),
        (b'{"messages": []}', 422, "NOT_A_BATCH"),
        (b'{"messages": {}}', 422, "NOT_A_BATCH"),
        (b'{"messages": [' + b"1," * 1000 + b"1]}", 422, "NOT_A_BATCH"),
        (b'{"x": "' + b"y" * 1_000_001 + b'"}', 413, "PAYLOAD_TOO_LARGE"),
    ],
)
def test_bad_bodies_get_typed_errors(
    client: TestClient, content: bytes, status: int, code: str
) -> None:
    response = client.post("/ingest", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_a_full_buffer_is_503_with_retry_after(fleet: Fleet, client: TestClient) -> None:
    device, token = fleet.device()
    body = {"messages": [message(device, f"m{i}") for i in range(6)]}  # more than max_pending
    response = post(client, body, token)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "OVERLOADED"


def test_deeply_nested_json_is_a_typed_400_not_a_500(client: TestClient) -> None:
    body = '{"messages": [' + "[" * 100_000 + "]" * 100_000 + "]}"
    response = client.post("/ingest", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_JSON"


def test_a_batch_not_committed_in_time_is_503_and_a_later_one_is_answered(
    fleet: Fleet, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    device, token = fleet.device()
    real = fleet.app.save_telemetry
    down = [True]

    def flaky(streams: Any, meta: Any) -> Any:
        if down[0]:
            raise RuntimeError("store down")
        return real(streams, meta)

    fleet.app.save_telemetry = flaky  # type: ignore[method-assign]
    monkeypatch.setattr("ingestion.http.COMMIT_TIMEOUT_S", 0.3)
    response = post(client, {"messages": [message(device, "a"), {"message_id": "x"}]}, token)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "STORE_UNAVAILABLE"
    down[0] = False  # the store is back: the retried commit stores "a" (once), then "b"
    response = post(client, {"messages": [message(device, "a"), message(device, "b")]}, token)
    assert response.status_code == 200
    assert sorted(r["status"] for r in response.json()["results"]) == ["accepted", "duplicate"]
    assert fleet.stored_entries("acme", device) == ["a", "b"]
