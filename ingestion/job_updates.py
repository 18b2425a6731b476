"""One device job update as the MQTT transports take it (docs/firmware.md section 12.5): the
payload published on `devices/{device}/jobs/{execution}/update`, answered with the body of
`.../update/accepted` (`{seq, duplicate}`) or `.../update/rejected` (`{seq, code, field,
message}`). Shared by the Mosquitto subscriber (`ingestion.jobs_mqtt`) and the IoT Core rule's
function (`ingestion.iot_jobs`); framework-free.

The device is authenticated by the payload's `token`, or `proven` by the channel (a broker
that checked the device's certificate for the topic's device). `tenant`, where the channel
names one (IoT Core's client id `{tenant}_{device}`), must be the device's. An unexpected
failure (the store down) is answered `UNAVAILABLE`: the device sends the same `seq` again.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ingestion.device_jobs import (
    DeviceDenied,
    DeviceJobService,
    parse_body,
    parse_device_id,
    parse_update,
)
from write_side.credentials import AccessDenied, DeviceAccess
from write_side.errors import DomainError

log = logging.getLogger(__name__)
UNAVAILABLE = "the update could not be handled now; send it again"


def answer_update(
    service: DeviceJobService,
    device: str,
    execution: str,
    payload: bytes,
    *,
    proven: bool = False,
    tenant: str | None = None,
) -> tuple[bool, dict[str, Any]]:
    """(accepted, the answer's body) for one update published on the device's topic."""
    seq = update_seq(payload)
    try:
        body = parse_body(payload)
        device_id = parse_device_id(device)
        access = service.authenticate(device_id, body.get("token"), proven=proven)
        _check_tenant(access, tenant)
        command = parse_update(access.device_id, execution, body, token=True)
        return True, service.report(access, command).to_json()
    except DomainError as e:
        field = getattr(e, "field", None)
        return False, {"seq": seq, "code": e.code, "field": field, "message": e.message}
    except Exception:  # the store down, a bug: never lose the caller; the device retries
        log.exception("job update on %s/%s not handled", device, execution)
        return False, {"seq": seq, "code": "UNAVAILABLE", "field": None, "message": UNAVAILABLE}


def _check_tenant(access: DeviceAccess, tenant: str | None) -> None:
    """The channel's tenant, where it names one, is the device's."""
    if tenant is not None and access.tenant_id != tenant:
        raise DeviceDenied(AccessDenied.UNAUTHENTICATED)


def answer_topic(update_topic: str, accepted: bool) -> str:
    """Where an update's answer goes: its topic plus `/accepted` or `/rejected`."""
    return f"{update_topic}/{'accepted' if accepted else 'rejected'}"


def update_seq(payload: bytes) -> int | None:
    """The update's `seq` for the answer, when the payload has one."""
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    seq = body.get("seq") if isinstance(body, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None
