"""Job updates through AWS IoT Core (docs/firmware.md section 12.5): `handle(service, publish,
event)` for the events of the topic rule `JOBS_RULE_SQL`, which invokes the `jobs` function
once per update a device publishes on `devices/{device}/jobs/{execution}/update`; the answer
goes back, as on Mosquitto (`ingestion.jobs_mqtt`), to that topic plus `/accepted` or
`/rejected`, through IoT Core's data plane (`ota.iot_jobs.IotDataClient`).

The event is the update's JSON with the rule's three aliases: `device_id` and `execution_id`
(the topic's parts) and `client_id`. IoT Core authenticated the device by its certificate and
its policy lets a thing publish only on its own topics, so a client id `{tenant}_{device}`
whose device is the topic's proves the device (no token needed) and names its tenant, which
must be the device's. Any other client id falls back to the payload's `token`. An update
that cannot be answered (an event without the topic's parts) is logged and dropped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from ingestion.device_jobs import DeviceJobService
from ingestion.iot_core import trusted_identity
from ingestion.job_updates import answer_topic, answer_update

log = logging.getLogger(__name__)
JOBS_RULE_SQL = (
    "SELECT *, topic(2) AS device_id, topic(4) AS execution_id, clientid() AS client_id "
    "FROM 'devices/+/jobs/+/update'"
)
ALIASES = ("device_id", "execution_id", "client_id")
Publish = Callable[[str, bytes], None]  # (topic, payload) at QoS 1


def handle(service: DeviceJobService, publish: Publish, event: Mapping[str, Any]) -> dict[str, Any]:
    """Decide one update and publish its answer; what was answered. Raises only when the
    answer could not be published (the update is decided and stored once: the retry is
    answered `duplicate`)."""
    device, execution = event.get("device_id"), event.get("execution_id")
    if not isinstance(device, str) or not isinstance(execution, str):
        log.warning("a job update event without its topic's device and execution: dropped")
        return {"answered": False}
    payload = json.dumps({k: v for k, v in event.items() if k not in ALIASES}).encode()
    tenant, proven_device = trusted_identity(event.get("client_id"))
    proven = proven_device is not None and proven_device == _canonical(device)
    accepted, answer = answer_update(
        service, device, execution, payload, proven=proven, tenant=tenant if proven else None
    )
    topic = answer_topic(f"devices/{device}/jobs/{execution}/update", accepted)
    publish(topic, json.dumps(answer).encode())
    return {"answered": True, "topic": topic, "answer": answer}


def _canonical(device: str) -> str | None:
    try:
        return str(UUID(device))
    except ValueError:
        return None
