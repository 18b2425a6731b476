"""Parsing and validating a device's job update (`ingestion/device_jobs.py`), and the
`If-None-Match` comparison of the polling route: every refusal is `INVALID_INPUT` naming the
field as the body spells it, and the device's identity never comes from the body."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from ingestion.device_jobs import MAX_UPDATE_BYTES, parse_update
from ingestion.jobs_http import _matches
from write_side.deployment_states import FailureKind, UpdateStatus
from write_side.errors import InvalidInput

DEVICE = uuid.uuid4()
EXECUTION = str(uuid.uuid4())
AT = datetime(2026, 3, 1, 12, tzinfo=UTC).isoformat()


def body(**fields: object) -> bytes:
    return json.dumps({"seq": 1, "status": "downloading", "at": AT} | fields).encode()


def test_a_good_update_becomes_the_command_with_the_device_from_the_credential() -> None:
    command = parse_update(DEVICE, EXECUTION, body(status="failed", kind="download", reason="io"))
    assert (command.device_id, str(command.execution_id)) == (DEVICE, EXECUTION)
    assert (command.seq, command.status, command.kind) == (
        1,
        UpdateStatus.FAILED,
        FailureKind.DOWNLOAD,
    )
    with_token = {"seq": 2, "status": "installing", "at": AT, "token": "fwd1.x"}
    assert parse_update(DEVICE, EXECUTION, with_token, token=True).seq == 2


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b"\xff\xfe", "body"),
        (b" " * (MAX_UPDATE_BYTES + 1), "body"),
        (body(seq=0), "seq"),
        (body(seq="one"), "seq"),
        (body(status="done"), "status"),
        (body(percent=-1), "percent"),
        (body(version=""), "version"),
        (body(version="9" * 65), "version"),
        (body(kind="download"), "kind"),  # a kind goes with status failed only
        (body(status="failed", kind="stalled"), "kind"),  # the server's, never a device's
        (body(at="2026-03-01T12:00:00"), "at"),  # no time zone
        (body(deviceId=str(uuid.uuid4())), "deviceId"),
        (body(device_id=str(uuid.uuid4())), "device_id"),
        (body(token="fwd1.x"), "token"),  # over HTTP the token is a header
        (json.dumps({"status": "downloading", "at": AT}).encode(), "seq"),
    ],
)
def test_bad_updates_name_their_field(payload: bytes, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_update(DEVICE, EXECUTION, payload)
    assert caught.value.field == field


def test_a_bad_execution_id_is_named() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_update(DEVICE, "not-a-uuid", body())
    assert caught.value.field == "executionId"


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (None, False),
        ('"a:1:2"', True),
        ('W/"a:1:2"', True),
        ('"x", "a:1:2"', True),
        ("*", True),
        ('"a:1:3"', False),
        ("a:1:2", False),  # unquoted: not the tag
    ],
)
def test_if_none_match(header: str | None, matches: bool) -> None:
    assert _matches(header, '"a:1:2"') is matches
