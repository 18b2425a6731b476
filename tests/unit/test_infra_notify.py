"""The stack's notification senders (`infra.config.Notify`, from the CDK app's context): what
the scheduled function is told, and the context refused before anything is synthesised."""

from __future__ import annotations

import pytest

from infra.config import Notify


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
