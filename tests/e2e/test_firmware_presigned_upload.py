"""The large-upload path end to end (docs/firmware.md 12.1, 12.8): request (REST and GraphQL),
PUT the bytes with the presigned URL to moto's S3 server, confirm. On the local blob store the
request is PRESIGN_NOT_SUPPORTED (501) and records nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fleetwatch.bootstrap import System
from fleetwatch.settings import Settings
from ota.s3 import S3BlobStore, s3_client
from tests.e2e.conftest import TEST_SECRET, Tokens, new_tenant
from tests.e2e.firmware_upload_client import sha256_of
from tests.integration.conftest import moto_url  # noqa: F401 (the session's moto server)
from write_side.firmware_objects import object_key

IMAGE = bytes(range(256)) * 5000


def settings_for(tmp_path: Any, **changes: Any) -> Settings:
    settings = Settings(
        store="sqlite",
        sqlite_path=tmp_path / "fleet.sqlite3",
        jwt_secret=TEST_SECRET,
        jwks_url=None,
        jwt_issuer=None,
        jwt_audience=None,
        run_projections=True,
        blob_dir=tmp_path / "blobs",
    )
    return settings.model_copy(update={"redis_url": None, **changes})


@pytest.fixture(params=["sqlite", "dynamodb"])
def api_settings(request: pytest.FixtureRequest, tmp_path: Any) -> Settings:
    if request.param == "local":
        return settings_for(tmp_path)
    endpoint = request.getfixturevalue("moto_url")
    bucket = f"fw-{uuid.uuid4().hex[:12]}"
    S3BlobStore(s3_client("us-east-1", endpoint), bucket).create_bucket()
    changes: dict[str, Any] = {
        "blob_store": "s3",
        "firmware_bucket": bucket,
        "blob_endpoint_url": endpoint,
    }
    if request.param == "dynamodb":
        changes["store"] = "dynamodb"
        changes["dynamodb_endpoint_url"] = request.getfixturevalue("dynamodb_endpoint")
        changes["dynamodb_table_prefix"] = request.getfixturevalue("table_prefix")
    return settings_for(tmp_path, **changes)


@pytest.fixture
def http(live_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{live_url}", timeout=30) as client:
        yield client


def release(version: str, image: bytes = IMAGE) -> dict[str, Any]:
    return {
        "firmwareVersion": version,
        "deviceTypes": ["pump"],
        "filename": "fw.bin",
        "sizeBytes": len(image),
        "sha256": sha256_of(image),
    }


REQUEST = """mutation($input: RequestFirmwareUploadInput!) {
  requestFirmwareUpload(input: $input) {
    firmware { id status sizeBytes } uploadUrl uploadHeaders expiresAt
  }
}"""
CONFIRM = """mutation($id: ID!) {
  confirmFirmwareUpload(input: {id: $id}) { id status rejectionReason sha256 }
}"""


def gql(http: httpx.Client, token: str, query: str, **variables: Any) -> dict[str, Any]:
    response = http.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": token}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_presigned_upload_is_put_confirmed_and_available(
    api_system: System, http: httpx.Client, tokens: Tokens
) -> None:
    tenant = new_tenant()
    admin = {"Authorization": tokens(tenant, "admin")}

    requested = http.post("/firmware/uploads", json=release("2.0.0"), headers=admin)
    assert requested.status_code == 202, requested.text
    upload = requested.json()
    firmware_id = upload["firmware"]["id"]
    assert upload["firmware"]["status"] == "PENDING_UPLOAD"
    assert requested.headers["Location"] == f"/firmware/{firmware_id}"

    early = http.post(f"/firmware/{firmware_id}/confirm", headers=admin)
    assert early.status_code == 409, early.text
    assert early.json()["error"]["code"] == "IMAGE_NOT_UPLOADED"

    put = httpx.put(upload["uploadUrl"], content=IMAGE, headers=upload["uploadHeaders"])
    assert put.status_code == 200, put.text
    confirmed = http.post(f"/firmware/{firmware_id}/confirm", headers=admin)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "AVAILABLE"
    key = object_key(tenant, sha256_of(IMAGE))
    assert b"".join(api_system.blobs.read_range(key)) == IMAGE
    firmware = api_system.firmware_service.load(tenant, uuid.UUID(firmware_id))
    assert firmware.status.value == "AVAILABLE"

    # Another tenant cannot confirm it; an operator cannot request one.
    stranger = {"Authorization": tokens(new_tenant(), "admin")}
    assert http.post(f"/firmware/{firmware_id}/confirm", headers=stranger).status_code == 404
    operator = {"Authorization": tokens(tenant, "operator")}
    refused = http.post("/firmware/uploads", json=release("2.0.1"), headers=operator)
    assert refused.status_code == 403


def test_other_bytes_put_are_rejected_and_not_kept(
    api_system: System, http: httpx.Client, tokens: Tokens
) -> None:
    tenant = new_tenant()
    token = tokens(tenant, "admin")
    answer = gql(http, token, REQUEST, input=release("3.0.0"))
    assert "errors" not in answer, answer
    upload = answer["data"]["requestFirmwareUpload"]
    assert upload["firmware"]["status"] == "PENDING_UPLOAD"
    assert upload["firmware"]["sizeBytes"] == len(IMAGE)

    shorter = IMAGE[:-10]  # moto checks neither the signed size nor the checksum
    headers = {k: v for k, v in upload["uploadHeaders"].items() if k != "content-length"}
    assert httpx.put(upload["uploadUrl"], content=shorter, headers=headers).status_code == 200

    confirmed = gql(http, token, CONFIRM, id=upload["firmware"]["id"])
    assert "errors" not in confirmed, confirmed
    rejected = confirmed["data"]["confirmFirmwareUpload"]
    assert rejected["status"] == "REJECTED"
    assert rejected["rejectionReason"] == "checksum_mismatch"
    assert api_system.blobs.head(object_key(tenant, sha256_of(IMAGE))) is None

    again = gql(http, token, CONFIRM, id=upload["firmware"]["id"])
    assert again["errors"][0]["extensions"]["code"] == "INVALID_TRANSITION"


def test_a_wrong_declared_size_is_rejected_as_such(
    api_system: System, http: httpx.Client, tokens: Tokens
) -> None:
    tenant = new_tenant()
    admin = {"Authorization": tokens(tenant, "admin")}
    declared = release("4.0.0") | {"sizeBytes": len(IMAGE) + 1}  # the right bytes, wrong size
    upload = http.post("/firmware/uploads", json=declared, headers=admin).json()
    headers = {k: v for k, v in upload["uploadHeaders"].items() if k != "content-length"}
    assert httpx.put(upload["uploadUrl"], content=IMAGE, headers=headers).status_code == 200

    confirmed = http.post(f"/firmware/{upload['firmware']['id']}/confirm", headers=admin).json()
    assert confirmed["status"] == "REJECTED"
    assert confirmed["rejectionReason"] == "size_mismatch"


def test_bad_requests_are_named_and_record_nothing(http: httpx.Client, tokens: Tokens) -> None:
    admin = {"Authorization": tokens(new_tenant(), "admin")}
    for change, field in [
        ({"firmwareVersion": "v2"}, "firmwareVersion"),
        ({"deviceTypes": []}, "deviceTypes"),
        ({"sha256": "xyz"}, "sha256"),
        ({"sizeBytes": 0}, "sizeBytes"),
    ]:
        response = http.post("/firmware/uploads", json=release("5.0.0") | change, headers=admin)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field


@pytest.mark.parametrize("api_settings", ["local"], indirect=True)
def test_the_local_store_cannot_presign_and_records_nothing(
    api_system: System, http: httpx.Client, tokens: Tokens
) -> None:
    tenant = new_tenant()
    admin = {"Authorization": tokens(tenant, "admin")}
    response = http.post("/firmware/uploads", json=release("1.0.0"), headers=admin)
    assert response.status_code == 501, response.text
    assert response.json()["error"]["code"] == "PRESIGN_NOT_SUPPORTED"
    assert api_system.event_log.head() == 0


@pytest.mark.parametrize("api_settings", ["local"], indirect=True)
def test_the_upload_routes_are_documented(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    upload = paths["/firmware/upload"]["post"]
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(form["required"]) == {"firmwareVersion", "deviceTypes", "file"}
    assert form["properties"]["file"]["format"] == "binary"
    assert {"sha256", "signature", "keyId", "hardwareRevisions"} <= set(form["properties"])
    assert "fields must come before the file part" in upload["description"].replace("*", "")
    assert {"201", "413", "422", "403"} <= set(upload["responses"])
    assert "202" in paths["/firmware/uploads"]["post"]["responses"]
    assert "post" in paths["/firmware/{firmwareId}/confirm"]


@pytest.mark.parametrize("api_settings", ["local"], indirect=True)
def test_graphql_names_a_bad_field_and_refuses_a_viewer(http: httpx.Client, tokens: Tokens) -> None:
    tenant = new_tenant()
    bad = gql(http, tokens(tenant, "admin"), REQUEST, input=release("1.0") | {"deviceTypes": []})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert bad["errors"][0]["extensions"]["field"] in {"firmwareVersion", "deviceTypes"}
    viewer = gql(http, tokens(tenant, "viewer"), REQUEST, input=release("1.0.0"))
    assert viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
