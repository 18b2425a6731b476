"""POST /firmware/upload end to end through uvicorn (docs/firmware.md 12.1, 12.8): the body sent
chunked (no Content-Length), on both event stores with the local blob store and on SQLite with
the S3 store against moto's server. What is stored is read back from the blob store itself."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System
from fleetwatch.settings import Settings
from ota.s3 import S3BlobStore, s3_client
from tests.e2e.conftest import TEST_SECRET, Tokens, new_tenant
from tests.e2e.firmware_upload_client import CONTENT_TYPE, Signer, sha256_of, upload
from tests.integration.conftest import moto_url  # noqa: F401 (the session's moto server)
from write_side.firmware_commands import RegisterSigningKey, RequireSignedFirmware
from write_side.firmware_objects import object_key

MAX_BYTES = 3 * 1024 * 1024
IMAGE = bytes(range(256)) * 9000  # 2.2 MiB: three 1 MiB chunks and a tail
FIELDS = [("firmwareVersion", "1.4.0"), ("deviceTypes", "pump"), ("deviceTypes", "valve")]


@pytest.fixture(params=["sqlite-local", "dynamodb-local", "sqlite-s3"])
def api_settings(request: pytest.FixtureRequest, tmp_path: Any) -> Settings:
    store, blobs = request.param.split("-")
    settings = Settings(
        store=store,
        sqlite_path=tmp_path / "fleet.sqlite3",
        jwt_secret=TEST_SECRET,
        jwks_url=None,
        jwt_issuer=None,
        jwt_audience=None,
        run_projections=True,
        blob_store=blobs,
        blob_dir=tmp_path / "blobs",
        firmware_max_bytes=MAX_BYTES,
    )
    changes: dict[str, Any] = {"redis_url": None}
    if store == "dynamodb":
        changes["dynamodb_endpoint_url"] = request.getfixturevalue("dynamodb_endpoint")
        changes["dynamodb_table_prefix"] = request.getfixturevalue("table_prefix")
    if blobs == "s3":
        endpoint = request.getfixturevalue("moto_url")
        changes |= {"firmware_bucket": f"fw-{uuid.uuid4().hex[:12]}", "blob_endpoint_url": endpoint}
        S3BlobStore(s3_client("us-east-1", endpoint), changes["firmware_bucket"]).create_bucket()
    return settings.model_copy(update=changes)


@pytest.fixture
def http(live_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{live_url}", timeout=30) as client:
        yield client


def stored(system: System, tenant: str, image: bytes) -> bytes | None:
    """The blob store's bytes under the image's key; None when nothing is there."""
    key = object_key(tenant, sha256_of(image))
    if system.blobs.head(key) is None:
        return None
    return b"".join(system.blobs.read_range(key))


def error(response: httpx.Response, status: int) -> tuple[str, str | None]:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    return body["code"], body.get("field")


def test_an_admin_uploads_a_release_streamed_and_others_cannot(
    api_system: System, http: httpx.Client, tokens: Tokens
) -> None:
    tenant = new_tenant()
    admin = tokens(tenant, "admin")
    fields = [*FIELDS, ("sha256", sha256_of(IMAGE)), ("releaseNotes", "Fixes the valve.")]
    chunks = (IMAGE[i : i + 100_000] for i in range(0, len(IMAGE), 100_000))

    response = upload(http, admin, fields, chunks)

    assert response.status_code == 201, response.text
    release = response.json()
    assert response.headers["Location"] == f"/firmware/{release['id']}"
    assert release["status"] == "AVAILABLE"
    assert release["sha256"] == sha256_of(IMAGE)
    assert release["sizeBytes"] == len(IMAGE)
    assert release["deviceTypes"] == ["pump", "valve"]
    assert release["filename"] == "fw.bin"
    assert release["releaseNotes"] == "Fixes the valve."
    assert stored(api_system, tenant, IMAGE) == IMAGE
    firmware = api_system.firmware_service.load(tenant, uuid.UUID(release["id"]))
    assert firmware.sha256 == sha256_of(IMAGE)

    # Viewers and operators may not upload; another tenant neither sees nor confirms it.
    other = IMAGE[:1000]
    for role in ("viewer", "operator", "auditor"):
        assert error(upload(http, tokens(tenant, role), FIELDS, [other]), 403)[0] == "FORBIDDEN"
    assert error(upload(http, "Bearer nonsense", FIELDS, [other]), 401)[0] == "UNAUTHENTICATED"
    assert stored(api_system, tenant, other) is None
    stranger = tokens(new_tenant(), "admin")
    confirm = http.post(f"/firmware/{release['id']}/confirm", headers={"Authorization": stranger})
    assert error(confirm, 404)[0] == "NOT_FOUND"

    # The same version again for one of its types: taken, and the shared blob stays.
    again = upload(http, admin, [("firmwareVersion", "1.4.0"), ("deviceTypes", "pump")], [IMAGE])
    assert error(again, 409)[0] == "FIRMWARE_VERSION_TAKEN"
    assert stored(api_system, tenant, IMAGE) == IMAGE
    # ... and new bytes refused so are not kept.
    fresh = IMAGE[::-1]
    taken = upload(http, admin, [("firmwareVersion", "1.4.0"), ("deviceTypes", "valve")], [fresh])
    assert error(taken, 409)[0] == "FIRMWARE_VERSION_TAKEN"
    assert stored(api_system, tenant, fresh) is None


def test_signatures_are_verified_before_anything_is_kept(
    api_system: System, http: httpx.Client, tokens: Tokens
) -> None:
    tenant = new_tenant()
    admin = tokens(tenant, "admin")
    signer, stranger = Signer(), Signer()
    meta = EventMetadata(tenant_id=tenant, actor="test")
    service = api_system.firmware_service
    service.register_key(RegisterSigningKey(public_key=signer.public_key, label="ci"), meta)
    service.require_signed(RequireSignedFirmware(required=True), meta)
    good = signer.sign(IMAGE, "1.4.0", ["pump", "valve"])

    wrong_release = signer.sign(IMAGE, "1.4.1", ["pump"])  # another version and types
    cases = [
        ([], "signature"),  # unsigned where required
        ([("signature", good), ("keyId", stranger.key_id)], "keyId"),  # unknown key
        ([("signature", stranger.sign(IMAGE, "1.4.0", ["pump", "valve"])),
          ("keyId", signer.key_id)], "signature"),
        ([("signature", wrong_release), ("keyId", signer.key_id)], "signature"),
        ([("signature", "not base64!"), ("keyId", signer.key_id)], "signature"),
    ]  # fmt: skip
    for extra, field in cases:
        response = upload(http, admin, [*FIELDS, *extra], [IMAGE])
        assert error(response, 422) == ("BAD_USER_INPUT", field)
        assert stored(api_system, tenant, IMAGE) is None

    signed = upload(http, admin, [*FIELDS, ("signature", good), ("keyId", signer.key_id)], [IMAGE])
    assert signed.status_code == 201, signed.text
    assert signed.json()["keyId"] == signer.key_id
    assert stored(api_system, tenant, IMAGE) == IMAGE


def test_a_wrong_checksum_or_an_image_too_large_keeps_nothing(
    api_system: System, http: httpx.Client, tokens: Tokens
) -> None:
    tenant = new_tenant()
    admin = tokens(tenant, "admin")
    wrong = upload(http, admin, [*FIELDS, ("sha256", "ab" * 32)], [IMAGE])
    assert error(wrong, 422) == ("BAD_USER_INPUT", "sha256")
    assert stored(api_system, tenant, IMAGE) is None

    large = bytes(MAX_BYTES + 1)
    pieces = (large[i : i + 65536] for i in range(0, len(large), 65536))
    streamed = upload(http, admin, FIELDS, pieces)
    assert error(streamed, 413) == ("PAYLOAD_TOO_LARGE", "file")
    assert stored(api_system, tenant, large) is None
    declared = http.post(
        "/firmware/upload",
        content=bytes(MAX_BYTES * 2),
        headers={"Authorization": admin, "Content-Type": CONTENT_TYPE},
    )
    assert error(declared, 413)[0] == "PAYLOAD_TOO_LARGE"
    if api_system.settings.blob_store == "local":
        incoming = api_system.settings.blob_dir / ".incoming"
        assert not incoming.exists() or not any(incoming.iterdir())
    # The server is still fine afterwards.
    assert upload(http, admin, FIELDS, [IMAGE]).status_code == 201


@pytest.mark.parametrize(
    ("fields", "image", "after", "field"),
    [
        ([("firmwareVersion", "1.4"), ("deviceTypes", "pump")], [IMAGE], [], "firmwareVersion"),
        ([("firmwareVersion", "1.4.0"), ("deviceTypes", "")], [IMAGE], [], "deviceTypes"),
        ([("firmwareVersion", "1.4.0"), ("deviceTypes", "Pump!")], [IMAGE], [], "deviceTypes"),
        ([("firmwareVersion", "1.4.0")], [IMAGE], [], "deviceTypes"),
        (FIELDS, None, [], "file"),
        ([], [IMAGE], FIELDS, "firmwareVersion"),  # the file before the fields
        (FIELDS[:1], [IMAGE], FIELDS[1:], "deviceTypes"),  # a field after the file
        ([*FIELDS, ("colour", "red")], [IMAGE], [], "colour"),
        ([*FIELDS, ("keyId", "not-a-key-id")], [IMAGE], [], "keyId"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_kept(
    api_system: System,
    http: httpx.Client,
    tokens: Tokens,
    fields: list[tuple[str, str]],
    image: list[bytes] | None,
    after: list[tuple[str, str]],
    field: str,
) -> None:
    tenant = new_tenant()
    response = upload(http, tokens(tenant, "admin"), fields, image, fields_after=after)
    assert error(response, 422) == ("BAD_USER_INPUT", field)
    assert stored(api_system, tenant, IMAGE) is None


def test_a_body_that_is_not_multipart_is_named(http: httpx.Client, tokens: Tokens) -> None:
    admin = tokens(new_tenant(), "admin")
    as_json = http.post("/firmware/upload", json={"firmwareVersion": "1.0.0"},
                        headers={"Authorization": admin})  # fmt: skip
    assert error(as_json, 422) == ("BAD_USER_INPUT", "body")
    cut = http.post(
        "/firmware/upload",
        content=b"--fleetwatch-test-boundary-7f3a\r\nContent-Disposition: form-data; name=",
        headers={"Authorization": admin, "Content-Type": CONTENT_TYPE},
    )
    assert error(cut, 422) == ("BAD_USER_INPUT", "body")
