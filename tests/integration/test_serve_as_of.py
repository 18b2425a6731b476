"""`fleetwatch serve --as-of` (docs/audit.md 19.2), on SQLite and DynamoDB Local: the API over
the read models `fleetwatch replay --to P --keep` kept shows them as of P (a device's name
before its rename), refuses every command (a firmware upload too, its image not kept)
with `READ_ONLY` and records nothing but the read of the trail, ingests nothing, and will not
start on a kept store that lacks a model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.auth import issue_token
from fleetwatch.as_of import KeptModelMissing, kept_where
from fleetwatch.bootstrap import build_system
from fleetwatch.cli import app
from fleetwatch.settings import Settings
from ingestion.settings import IngestSettings
from tests.e2e.firmware_upload_client import CONTENT_TYPE, body
from tests.integration.test_replay import kept_in, workload
from tests.integration.test_replay import settings as settings  # noqa: PLC0414 - each store

runner = CliRunner()
SECRET = "as-of-test-secret-of-sufficient-length"
DEVICE = "query ($id: ID!) { device(id: $id) { name version } }"
RENAME = """mutation ($id: ID!) {
  updateDevice(input: {id: $id, expectedVersion: 3, name: "changed"}) { name }
}"""
EVENTS = "{ events(first: 5) { edges { node { type } } headPosition } }"


def kept(position: int, *models: str) -> str:
    """Keep the read models as of `position` (all, or `models`); where, as printed."""
    chosen = ["--models", ",".join(models)] if models else []
    result = runner.invoke(app, ["replay", "--to", str(position), "--keep", *chosen])
    assert result.exit_code == 0, result.output
    return kept_in(result.stderr, "as of @")


def gql(client: TestClient, token: str, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": token}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_kept_read_models_served_read_only(settings: Settings, tmp_path: Path) -> None:
    system = build_system(settings, IngestSettings(ingest_flush_ms=5))
    system.start()
    try:
        device = workload(system)  # p1 (v1), its credential (v2), renamed p1b (v3)
        feed = system.event_log.read_feed(limit=1000)
    finally:
        system.close()
    renamed = next(e.position for e in feed if e.type == "Device.Updated")
    assert renamed is not None
    where = kept_where(kept(renamed - 1))

    blobs = tmp_path / "blobs"
    as_of = settings.model_copy(
        update={"as_of_read_models": where, "jwt_secret": SECRET, "blob_dir": blobs}
    )
    served = build_system(as_of)
    served.start()  # starts nothing: no worker, no ingestion
    try:
        head = served.event_log.head()
        token = "Bearer " + issue_token(as_of, "auditor-1", "acme", ["admin"], 600)
        with TestClient(create_app(served)) as client:
            shown = gql(client, token, DEVICE, id=str(device))
            assert shown["data"]["device"] == {
                "name": "p1",
                "version": 2,
            }  # as of before the rename (v3)

            refused = gql(client, token, RENAME, id=str(device))
            assert refused["data"] is None
            assert refused["errors"][0]["extensions"]["code"] == "READ_ONLY"
            rest = client.put(
                f"/devices/{device}",
                json={"name": "changed"},
                headers={"Authorization": token, "If-Match": '"3"'},
            )
            assert (rest.status_code, rest.json()["error"]["code"]) == (403, "READ_ONLY")
            ingest = client.post("/ingest", json={"messages": []})
            assert ingest.status_code == 503
            image = body([("firmwareVersion", "9.9.9"), ("deviceTypes", "pump")], [b"\x7f" * 4096])
            firmware = client.post(
                "/firmware/upload",
                content=b"".join(image),
                headers={"Authorization": token, "Content-Type": CONTENT_TYPE},
            )  # received, then refused: the image stored meanwhile is removed again
            assert (firmware.status_code, firmware.json()["error"]["code"]) == (403, "READ_ONLY")
            assert [p for p in blobs.rglob("*") if p.is_file()] == []
            assert served.event_log.head() == head  # nothing recorded

            history = gql(client, token, EVENTS)
            assert "errors" not in history, history
            assert history["data"]["events"]["headPosition"] == head
        recorded = served.event_log.read_feed(after=head, limit=10)
        assert [e.type for e in recorded] == ["TrailRead.Recorded"]  # the read, and only it
        assert served.devices.get("acme", device).name == "p1"  # type: ignore[union-attr]
    finally:
        served.close()

    partial = kept_where(kept(renamed - 1, "device_status"))
    with pytest.raises(KeptModelMissing, match="lack 'telemetry'"):
        build_system(settings.model_copy(update={"as_of_read_models": partial}))


def test_serve_as_of_a_store_without_the_models_is_a_one_line_error(tmp_path: Any) -> None:
    result = runner.invoke(app, ["serve", "--as-of", str(tmp_path / "nothing-kept")])
    assert result.exit_code == 2
    assert "is missing" in result.output
    assert "Traceback" not in result.output
