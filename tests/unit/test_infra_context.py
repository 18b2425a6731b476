"""The CDK app's context, parsed before anything is synthesised (`infra.config`): the
notification senders (what the scheduled function is told), the emulator's address and the
telemetry window; bad values refused with what is wrong."""

from __future__ import annotations

import pytest

from infra.config import Notify, emulator_url, telemetry_window


def test_the_default_writes_a_log_line_per_notification() -> None:
    assert Notify.parse(None, None).environment("eu-west-1") == {
        "FLEETWATCH_NOTIFY_SENDERS": "log",
        "FLEETWATCH_NOTIFY_REGION": "eu-west-1",
    }


def test_ses_and_sns_with_the_from_address() -> None:
    notify = Notify.parse(" ses, sns ", "alerts@fleet.example")
    assert notify.senders == ("ses", "sns")
    assert notify.environment("r")["FLEETWATCH_SES_FROM"] == "alerts@fleet.example"


@pytest.mark.parametrize(
    ("senders", "ses_from", "message"),
    [
        ("ses", None, "ses needs sesFrom"),
        ("ses,fcm", "a@b.example", r"\['fcm'\] not of log, ses, sns"),
        (" , ", None, r"\(\) not of"),
    ],
)
def test_bad_context_is_refused(senders: str, ses_from: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Notify.parse(senders, ses_from)


def test_the_emulator_is_an_http_host_and_port() -> None:
    assert emulator_url(None) is None
    assert emulator_url("http://127.0.0.1:4599/") == "http://127.0.0.1:4599"
    for bad in ("https://127.0.0.1:4599", "http://127.0.0.1", "http://h:1/x", "127.0.0.1:1"):
        with pytest.raises(ValueError, match="is not http://host:port"):
            emulator_url(bad)


def test_the_telemetry_window_is_seconds_within_the_mappings_range() -> None:
    assert telemetry_window(None) is None
    assert telemetry_window("20") == 20
    assert telemetry_window(0) == 0
    for bad in ("301", "-1", "2.5", "soon"):
        with pytest.raises(ValueError, match="telemetryWindow"):
            telemetry_window(bad)
