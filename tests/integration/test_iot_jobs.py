"""OTA jobs through AWS IoT Core (docs/firmware.md 12.5), IoT Core's data plane being moto's
server (its backend lives in this process, so a test reads what was published), on both
stores:

- the processes function publishes the job notice of a notified execution to
  `devices/{id}/jobs/notify` (the orchestrator's schedule, then `ota_jobs`), once;
- the jobs function (`iot_jobs_handler`, one rule event per update) decides each update and
  answers it on `.../update/accepted` or `/rejected`: a device proven by its client id needs
  no token, a redelivery is a duplicate stored once, and a client id of another device or
  another tenant, a wrong token, an unknown field or a stale seq are refused with their code,
  storing nothing; an event without the topic's parts is dropped unanswered;
- a data plane that does not answer is `JobNotDelivered` (the notice stays pending), and
  `describe` asks IoT for the account's endpoint."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iotdata.models import iotdata_backends

from fleetwatch import lambdas
from fleetwatch.bootstrap import System, build_system
from fleetwatch.settings import Settings
from ota.iot_jobs import DESCRIBE, IotCoreDeviceJobs, IotDataClient
from ota.mqtt_jobs import JobNotDelivered
from tests.integration.device_jobs_fixtures import device, job, stored, update

REGION = "us-east-1"
Published = Callable[[], list[tuple[str, dict[str, Any]]]]


@pytest.fixture
def published(moto_url: str) -> Published:
    """What moto's data plane took since the test started, as (topic, JSON)."""
    backend = iotdata_backends[DEFAULT_ACCOUNT_ID][REGION]
    backend.published_payloads.clear()
    return lambda: [(t, json.loads(p)) for t, p in backend.published_payloads]


@pytest.fixture
def functions(
    store_settings: Settings, moto_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], System]]:
    """A system per function (its warm environment's), job documents through IoT Core."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = store_settings.model_copy(
        update={"run_projections": False, "ota_iot_endpoint": moto_url,
                "dynamodb_region": REGION, "blob_dir": tmp_path / "blobs"}
    )  # fmt: skip
    built: dict[str, System] = {}

    def function(name: str) -> System:
        if name not in built:
            built[name] = build_system(settings)
        return built[name]

    monkeypatch.setattr(lambdas, "_warm", {})
    yield function
    for system in built.values():
        system.close()


def rule_event(
    device_id: UUID | str, execution: UUID | str, body: dict[str, Any], client: str
) -> dict[str, Any]:
    """What the rule `JOBS_RULE_SQL` hands the function: the update and its three aliases."""
    return body | {"device_id": str(device_id), "execution_id": str(execution), "client_id": client}


def test_the_processes_function_publishes_the_job_notice_through_iot_core(
    functions: Callable[[str], System], published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = functions("api")
    taken = job(writer, channel="mqtt")
    monkeypatch.setattr(lambdas, "_warm", {"processes": functions("processes")})
    done = lambdas.processes_handler({"Records": []})
    assert done["ota_jobs"]["published"] == 1
    [(topic, document)] = published()
    assert topic == f"devices/{taken.device_id}/jobs/notify"
    assert document["executionId"] == str(taken.execution_id)
    again = lambdas.processes_handler({"Records": []})
    assert again["ota_jobs"]["published"] == 0  # sent once
    assert len(published()) == 1


def test_the_jobs_function_answers_each_update_on_its_topic(
    functions: Callable[[str], System], published: Published, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = functions("jobs")
    taken = job(system, channel="mqtt")
    monkeypatch.setattr(lambdas, "_warm", {"jobs": system})
    own = f"acme_{taken.device_id}"  # the thing's client id: IoT Core proved it
    execution = taken.execution_id
    base = f"devices/{taken.device_id}/jobs/{execution}/update"

    def send(body: dict[str, Any], client: str = own, device_id: Any = taken.device_id) -> Any:
        return lambdas.iot_jobs_handler(rule_event(device_id, execution, body, client))

    assert send(update(1, "downloading"))["answer"] == {"seq": 1, "duplicate": False}
    before = stored(system)
    assert send(update(1, "downloading"))["answer"] == {"seq": 1, "duplicate": True}
    assert stored(system) == before  # a redelivery is stored once
    with_token = update(3, "downloaded", token=taken.token)
    assert send(with_token, client="some-client")["answer"] == {"seq": 3, "duplicate": False}
    assert published() == [
        (f"{base}/accepted", {"seq": 1, "duplicate": False}),
        (f"{base}/accepted", {"seq": 1, "duplicate": True}),
        (f"{base}/accepted", {"seq": 3, "duplicate": False}),
    ]
    other, _ = device(system)
    before = stored(system)
    refused = {
        "another device's client id": (send(update(4, "installing"), client=f"acme_{other}"),
                                       "UNAUTHENTICATED", None),
        "another tenant's client id": (send(update(4, "installing"),
                                            client=f"globex_{taken.device_id}"),
                                       "UNAUTHENTICATED", None),
        "a wrong token": (send(update(4, "installing", token="fwd1.wrong"), client="x"),
                          "UNAUTHENTICATED", None),
        "an unknown field": (send(update(4, "installing", colour="red")), "INVALID_INPUT",
                             "colour"),
        "a stale seq": (send(update(2, "installing")), "STALE_UPDATE", None),
    }  # fmt: skip
    for why, (answered, code, field) in refused.items():
        assert answered["topic"] == f"{base}/rejected", why
        assert (answered["answer"]["code"], answered["answer"]["field"]) == (code, field), why
    assert stored(system) == before  # nothing stored for any of them
    assert len(published()) == 3 + len(refused)
    dropped = lambdas.iot_jobs_handler({"device_id": str(taken.device_id), "seq": 4})
    assert dropped == {"answered": False}
    assert len(published()) == 3 + len(refused)


def test_a_data_plane_that_does_not_answer_leaves_the_notice_pending() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    jobs = IotCoreDeviceJobs(IotDataClient(f"http://127.0.0.1:{port}", REGION))
    with pytest.raises(JobNotDelivered, match="IoT Core did not take"):
        jobs.publish("acme", UUID(int=1), {"executionId": "e"})


def test_describe_asks_iot_for_the_accounts_data_endpoint(
    moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT", moto_url)
    client = IotDataClient(DESCRIBE, REGION).client()
    url = client.meta.endpoint_url
    assert url.startswith("https://"), url
    assert "-ats.iot." in url, url
