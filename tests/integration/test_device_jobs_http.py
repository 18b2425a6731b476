"""The device routes of docs/firmware.md 12.5 over HTTP, on both stores (`store_settings`),
through the API's ASGI app (`create_app`, httpx's TestClient): a device takes its job, downloads
the image in two `Range` requests, reports its way to SUCCEEDED; duplicates, stale and foreign
updates, bad JSON, another tenant and an unchanged ETag."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System
from tests.integration.device_jobs_fixtures import (
    IMAGE_BYTES,
    TARGET,
    Job,
    device,
    job,
    release,
    stored,
    system,
    update,
)
from write_side.deployment_states import ExecutionState

__all__ = ["system"]


@pytest.fixture
def client(system: System) -> Iterator[TestClient]:
    with TestClient(create_app(system)) as built:
        yield built


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Device {token}"}


def post(client: TestClient, taken: Job, body: Any, token: str | None = None) -> Any:
    path = f"/devices/{taken.device_id}/jobs/{taken.execution_id}/updates"
    content = body if isinstance(body, bytes) else None
    return client.post(
        path,
        headers=auth(token or taken.token),
        json=None if content is not None else body,
        content=content,
    )


def state(system: System, taken: Job) -> ExecutionState:
    execution = system.deployment_service.get_execution("acme", taken.execution_id)
    return execution.execution.state


def test_a_device_takes_its_job_downloads_in_two_ranges_and_succeeds(
    system: System, client: TestClient
) -> None:
    taken = job(system)
    nothing = client.get(f"/devices/{device(system)[0]}/jobs/next", headers=auth(taken.token))
    assert nothing.status_code == 401  # another device's path with this device's token
    answer = client.get(f"/devices/{taken.device_id}/jobs/next", headers=auth(taken.token))
    assert answer.status_code == 200
    document = answer.json()
    assert document["executionId"] == str(taken.execution_id)
    assert (document["attempt"], document["operation"], document["lastSeq"]) == (1, "install", 0)
    assert answer.headers["etag"] == f'"{taken.execution_id}:1:2"'
    firmware = document["firmware"]
    assert (firmware["firmwareId"], firmware["sizeBytes"]) == (str(taken.firmware_id), IMAGE_BYTES)
    unchanged = {"If-None-Match": answer.headers["etag"]} | auth(taken.token)
    assert client.get(f"/devices/{taken.device_id}/jobs/next", headers=unchanged).status_code == 304

    assert post(client, taken, update(1, "downloading", percent=0)).json() == {
        "seq": 1,
        "duplicate": False,
    }
    image = f"/firmware/{taken.firmware_id}/image"
    half = IMAGE_BYTES // 2
    first = client.get(image, headers=auth(taken.token) | {"Range": f"bytes=0-{half - 1}"})
    second = client.get(image, headers=auth(taken.token) | {"Range": f"bytes={half}-"})
    assert (first.status_code, second.status_code) == (206, 206)
    assert second.headers["content-range"] == f"bytes {half}-{IMAGE_BYTES - 1}/{IMAGE_BYTES}"
    assert first.content + second.content == taken.image
    presigned = client.get(firmware["url"], headers={"Range": "bytes=0-9"})  # the job's own URL
    assert (presigned.status_code, presigned.content) == (206, taken.image[:10])
    assert client.get(firmware["url"] + "0").status_code == 403  # a signature altered

    moved = client.get(f"/devices/{taken.device_id}/jobs/next", headers=unchanged)
    assert moved.status_code == 200  # the execution moved on: a new tag
    assert moved.headers["etag"] == f'"{taken.execution_id}:1:3"'
    for seq, status in ((2, "downloaded"), (3, "installing")):
        assert post(client, taken, update(seq, status)).status_code == 200
    done = post(client, taken, update(4, "succeeded", version=TARGET))
    assert done.json() == {"seq": 4, "duplicate": False}
    assert state(system, taken) is ExecutionState.SUCCEEDED
    after = client.get(f"/devices/{taken.device_id}/jobs/next", headers=auth(taken.token))
    assert after.status_code == 204


def test_duplicate_stale_foreign_and_bad_updates(system: System, client: TestClient) -> None:
    taken = job(system)
    other_id, other_token = device(system)
    assert post(client, taken, update(5, "downloading")).json()["duplicate"] is False
    before = stored(system)
    again = post(client, taken, update(5, "downloading"))
    assert (again.status_code, again.json()) == (200, {"seq": 5, "duplicate": True})
    stale = post(client, taken, update(4, "downloaded"))
    assert (stale.status_code, stale.json()["error"]["code"]) == (409, "STALE_UPDATE")
    foreign = client.post(
        f"/devices/{other_id}/jobs/{taken.execution_id}/updates",
        headers=auth(other_token),
        json=update(8, "downloading"),
    )
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "NOT_FOUND")
    bad = post(client, taken, b"{not json")
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "body")
    wrong = post(client, taken, update(9, "downloading", percent=101))
    assert (wrong.status_code, wrong.json()["error"]["field"]) == (422, "percent")
    named = post(client, taken, update(9, "downloading") | {"deviceId": str(other_id)})
    assert (named.status_code, named.json()["error"]["field"]) == (422, "deviceId")
    assert post(client, taken, update(9, "downloading"), token="fwd1.x").status_code == 401
    assert stored(system) == before  # nothing stored for any of them
    assert post(client, taken, update(6, "rejected")).status_code == 200  # ends it
    after_end = post(client, taken, update(7, "installing"))
    assert after_end.status_code == 422
    assert after_end.json()["error"]["code"] == "INVALID_TRANSITION"
    assert stored(system) == before + 1
    assert state(system, taken) is ExecutionState.REJECTED


def test_another_tenant_sees_neither_the_job_nor_the_image(
    system: System, client: TestClient
) -> None:
    taken = job(system)
    globex = EventMetadata("globex", "user:gus")
    other_id, other_token = device(system, globex)
    release(system, b"globex image", globex)
    image = client.get(f"/firmware/{taken.firmware_id}/image", headers=auth(other_token))
    assert (image.status_code, image.json()["error"]["code"]) == (404, "NOT_FOUND")
    update_path = f"/devices/{other_id}/jobs/{taken.execution_id}/updates"
    foreign = client.post(update_path, headers=auth(other_token), json=update(1, "downloading"))
    assert foreign.status_code == 404
    assert (
        client.get(f"/devices/{other_id}/jobs/next", headers=auth(other_token)).status_code == 204
    )
    valve_id, valve_token = device(system, kind="valve")  # same tenant, not made for its type
    refused = client.get(f"/firmware/{taken.firmware_id}/image", headers=auth(valve_token))
    assert refused.status_code == 404
    assert valve_id != taken.device_id
    revised = release(system, b"r2 image", version="2.1.0", revisions=["r2"])
    _, r1_token = device(system, **{"fleetwatch.hardware_revision": "r1"})
    _, r2_token = device(system, **{"fleetwatch.hardware_revision": "r2"})
    r1 = client.get(f"/firmware/{revised}/image", headers=auth(r1_token))  # not its revision
    assert (r1.status_code, r1.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert client.get(f"/firmware/{revised}/image", headers=auth(r2_token)).content == b"r2 image"
    unknown = client.get(f"/firmware/{uuid4()}/image", headers=auth(taken.token))
    assert unknown.status_code == 404
    assert client.get(f"/firmware/{taken.firmware_id}/image").status_code == 401
    beyond = client.get(
        f"/firmware/{taken.firmware_id}/image",
        headers=auth(taken.token) | {"Range": f"bytes={IMAGE_BYTES}-"},
    )
    assert (beyond.status_code, beyond.headers["content-range"]) == (416, f"bytes */{IMAGE_BYTES}")
