"""Notification planning: channels per severity, quiet hours (across midnight, time zones, DST,
weekdays) and stable dedup keys. Pure functions, no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, time
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from write_side.notifications import (
    TRANSITION_OF_EVENT,
    AlertTransition,
    Preferences,
    PushTarget,
    QuietHours,
    Recipient,
    dedup_key,
    parse_preferences,
    plan_notifications,
    superseded_keys,
)
from write_side.users import default_preferences

ALERT_ID = UUID("00000000-0000-4000-8000-0000000000a1")
ALICE = UUID("00000000-0000-4000-8000-00000000a11c")
BOB = UUID("00000000-0000-4000-8000-000000000b0b")
NOON_UTC = datetime(2024, 1, 15, 12, 0, tzinfo=UTC)  # a Monday


def alert(kind: Any = "raised", severity: Any = "warning") -> AlertTransition:
    return AlertTransition("acme", ALERT_ID, kind, severity, "Boiler too hot", "temp > 80 (83.2)")


def prefs(**overrides: Any) -> Preferences:
    document = default_preferences()
    document.update(overrides)
    return parse_preferences(document)


def recipient(**overrides: Any) -> Recipient:
    base = Recipient(
        tenant_id="acme",
        user_id=ALICE,
        time_zone="UTC",
        preferences=prefs(),
        email="alice@example.com",
        phone_e164="+4915112345678",
        push_targets=(PushTarget("tok-a", "android"), PushTarget("tok-b", "ios")),
    )
    return replace(base, **overrides)


def quiet(start: str, end: str, days: list[int] | None = None, **more: Any) -> Preferences:
    channels = {"info": ["email"], "warning": ["email"], "critical": ["email"]}
    return prefs(channels=channels, quiet_hours={"start": start, "end": end, "days": days}, **more)


def channels_of(planned: list[Any]) -> list[tuple[str, str]]:
    return [(n.channel, n.address) for n in planned]


# ---------------------------------------------------------------- channels per severity


def test_default_preferences_info_nothing_warning_email_critical_email_and_push() -> None:
    assert plan_notifications(alert(severity="info"), [recipient()], NOON_UTC) == []
    assert channels_of(plan_notifications(alert(), [recipient()], NOON_UTC)) == [
        ("email", "alice@example.com")
    ]
    assert channels_of(plan_notifications(alert(severity="critical"), [recipient()], NOON_UTC)) == [
        ("email", "alice@example.com"),
        ("push", "tok-a"),
        ("push", "tok-b"),
    ]


def test_a_channel_without_an_address_is_skipped() -> None:
    everything = {"info": [], "warning": ["email", "sms", "push"], "critical": []}
    bare = recipient(preferences=prefs(channels=everything), email=None, push_targets=())
    assert channels_of(plan_notifications(alert(), [bare], NOON_UTC)) == [("sms", "+4915112345678")]
    nothing = replace(bare, phone_e164=None)
    assert plan_notifications(alert(), [nothing], NOON_UTC) == []


def test_every_recipient_of_the_tenant_only() -> None:
    bob = recipient(user_id=BOB, email="bob@example.com")
    stranger = recipient(tenant_id="other", user_id=UUID(int=7))
    planned = plan_notifications(alert(), [recipient(), bob, stranger], NOON_UTC)
    assert [(n.user_id, n.address) for n in planned] == [
        (ALICE, "alice@example.com"),
        (BOB, "bob@example.com"),
    ]
    assert all(n.tenant_id == "acme" and n.alert_id == ALERT_ID for n in planned)


def test_subject_and_body_describe_the_transition() -> None:
    (raised,) = plan_notifications(alert(), [recipient()], NOON_UTC)
    assert raised.subject == "[WARNING] Alert: Boiler too hot"
    assert raised.body == f"temp > 80 (83.2)\nAlert {ALERT_ID}"
    assert (raised.transition, raised.severity, raised.deliver_after) == ("raised", "warning", None)
    (resolved,) = plan_notifications(alert("resolved"), [recipient()], NOON_UTC)
    assert resolved.subject == "[WARNING] Resolved: Boiler too hot"
    escalated = plan_notifications(alert("escalated", "critical"), [recipient()], NOON_UTC)
    assert escalated[0].subject == "[CRITICAL] Alert escalated: Boiler too hot"


def test_event_types_map_to_transitions() -> None:
    assert dict(TRANSITION_OF_EVENT) == {
        "Alert.Raised": "raised",
        "Alert.Escalated": "escalated",
        "Alert.Resolved": "resolved",
    }


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        plan_notifications(alert(), [recipient()], datetime(2024, 1, 1, 12))


# ---------------------------------------------------------------- quiet hours


def deferral(
    preferences: Preferences, now: datetime, zone: str = "UTC", severity: Any = "warning"
) -> datetime | None:
    (planned,) = plan_notifications(
        alert(severity=severity), [recipient(preferences=preferences, time_zone=zone)], now
    )
    return planned.deliver_after


@pytest.mark.parametrize(
    ("local", "expected_local_end"),
    [
        (datetime(2024, 1, 15, 21, 59), None),
        (datetime(2024, 1, 15, 22, 0), datetime(2024, 1, 16, 7, 0)),
        (datetime(2024, 1, 15, 23, 30), datetime(2024, 1, 16, 7, 0)),
        (datetime(2024, 1, 16, 0, 0), datetime(2024, 1, 16, 7, 0)),
        (datetime(2024, 1, 16, 6, 59), datetime(2024, 1, 16, 7, 0)),
        (datetime(2024, 1, 16, 7, 0), None),
        (datetime(2024, 1, 16, 12, 0), None),
    ],
)
def test_quiet_hours_across_midnight_in_the_users_zone(
    local: datetime, expected_local_end: datetime | None
) -> None:
    zone = ZoneInfo("Europe/Berlin")
    now = local.replace(tzinfo=zone).astimezone(UTC)
    expected = None
    if expected_local_end is not None:
        expected = expected_local_end.replace(tzinfo=zone).astimezone(UTC)
    assert deferral(quiet("22:00", "07:00"), now, "Europe/Berlin") == expected


def test_quiet_hours_within_one_day() -> None:
    lunch = quiet("12:00", "13:30")
    assert deferral(lunch, NOON_UTC) == datetime(2024, 1, 15, 13, 30, tzinfo=UTC)
    assert deferral(lunch, datetime(2024, 1, 15, 13, 30, tzinfo=UTC)) is None
    assert deferral(lunch, datetime(2024, 1, 15, 11, 59, tzinfo=UTC)) is None


def test_the_same_instant_is_quiet_in_one_zone_and_not_in_another() -> None:
    instant = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)  # 23:00 in Tokyo, 09:00 in New York
    night = quiet("22:00", "07:00")
    assert deferral(night, instant, "Asia/Tokyo") == datetime(2024, 1, 15, 22, 0, tzinfo=UTC)
    assert deferral(night, instant, "America/New_York") is None


def test_quiet_hours_over_a_daylight_saving_change() -> None:
    # New York springs forward on 2024-03-10: 22:00 EST (03:00 UTC) to 07:00 EDT (11:00 UTC).
    night = quiet("22:00", "07:00")
    now = datetime(2024, 3, 10, 10, 30, tzinfo=UTC)  # 06:30 EDT
    assert deferral(night, now, "America/New_York") == datetime(2024, 3, 10, 11, 0, tzinfo=UTC)
    assert deferral(night, datetime(2024, 3, 10, 11, 0, tzinfo=UTC), "America/New_York") is None


def test_quiet_days_are_the_days_a_period_starts_on() -> None:
    friday_night = quiet("22:00", "07:00", days=[4])
    saturday_3am = datetime(2024, 1, 20, 3, 0, tzinfo=UTC)
    sunday_3am = datetime(2024, 1, 21, 3, 0, tzinfo=UTC)
    friday_23 = datetime(2024, 1, 19, 23, 0, tzinfo=UTC)
    assert deferral(friday_night, saturday_3am) == datetime(2024, 1, 20, 7, 0, tzinfo=UTC)
    assert deferral(friday_night, friday_23) == datetime(2024, 1, 20, 7, 0, tzinfo=UTC)
    assert deferral(friday_night, sunday_3am) is None


def test_critical_breaks_through_quiet_hours_unless_told_not_to() -> None:
    at_night = datetime(2024, 1, 15, 23, 0, tzinfo=UTC)
    assert deferral(quiet("22:00", "07:00"), at_night, severity="critical") is None
    strict = quiet("22:00", "07:00", critical_overrides_quiet_hours=False)
    assert deferral(strict, at_night, severity="critical") == datetime(
        2024, 1, 16, 7, 0, tzinfo=UTC
    )


def test_an_unknown_stored_zone_falls_back_to_utc() -> None:
    at_night = datetime(2024, 1, 15, 23, 0, tzinfo=UTC)
    until = deferral(quiet("22:00", "07:00"), at_night, "Nowhere/Atlantis")
    assert until == datetime(2024, 1, 16, 7, 0, tzinfo=UTC)


def test_quiet_hours_value_object() -> None:
    hours = QuietHours(time(22), time(7))
    assert hours.until(datetime(2024, 1, 15, 23, tzinfo=UTC), ZoneInfo("UTC")) == datetime(
        2024, 1, 16, 7, tzinfo=UTC
    )


# ---------------------------------------------------------------- dedup keys


def keys(planned: list[Any]) -> list[str]:
    return [n.key for n in planned]


def test_dedup_key_is_the_documented_sha256() -> None:
    expected = hashlib.sha256(f"acme|{ALERT_ID}|raised|{ALICE}|email|".encode()).hexdigest()
    (planned,) = plan_notifications(alert(), [recipient()], NOON_UTC)
    assert planned.key == expected
    assert planned.key == dedup_key(
        tenant_id="acme", alert_id=ALERT_ID, transition="raised", user_id=ALICE, channel="email"
    )


def test_keys_are_stable_across_replays_time_and_address_changes() -> None:
    first = plan_notifications(alert(severity="critical"), [recipient()], NOON_UTC)
    later = plan_notifications(
        alert(severity="critical"),
        [recipient(email="alice@new.example.com")],
        datetime(2025, 6, 1, 3, 0, tzinfo=UTC),
    )
    assert keys(first) == keys(later)
    assert len(set(keys(first))) == 3  # one per channel and push token


def test_keys_differ_per_transition_user_channel_token_and_escalation_step() -> None:
    everything = {"info": ["email", "sms", "push"]} | {
        s: ["email", "sms", "push"] for s in ("warning", "critical")
    }
    people = [
        recipient(preferences=prefs(channels=everything)),
        recipient(user_id=BOB, preferences=prefs(channels=everything)),
    ]
    planned = [
        *plan_notifications(alert("raised", "info"), people, NOON_UTC),
        *plan_notifications(alert("escalated", "warning"), people, NOON_UTC),
        *plan_notifications(alert("escalated", "critical"), people, NOON_UTC),
        *plan_notifications(alert("resolved", "critical"), people, NOON_UTC),
    ]
    assert len(planned) == 4 * 2 * 4  # transitions x users x (email, sms, 2 push tokens)
    assert len(set(keys(planned))) == len(planned)


def test_a_resolve_after_escalation_keeps_the_resolve_key() -> None:
    """A resolve's key does not depend on the severity, so a replay after a rule revision
    (which may change the severity it is planned with) still deduplicates."""
    as_warning = plan_notifications(alert("resolved", "warning"), [recipient()], NOON_UTC)
    as_critical = plan_notifications(alert("resolved", "critical"), [recipient()], NOON_UTC)
    assert as_warning[0].key == as_critical[0].key


def test_parse_preferences_ignores_unknown_channels() -> None:
    parsed = parse_preferences({"channels": {"info": ["fax", "sms"]}})
    assert parsed.channels == {"info": ("sms",), "warning": (), "critical": ()}
    assert parsed.quiet_hours is None
    assert parsed.critical_overrides_quiet_hours is True


def test_a_resolve_supersedes_earlier_messages_to_the_same_address_only() -> None:
    raised = plan_notifications(alert("raised", "critical"), [recipient()], NOON_UTC)
    escalated = plan_notifications(alert("escalated", "critical"), [recipient()], NOON_UTC)
    resolved = plan_notifications(alert("resolved", "critical"), [recipient()], NOON_UTC)
    for resolve, raise_, escalation in zip(resolved, raised, escalated, strict=True):
        assert resolve.address == raise_.address == escalation.address
        keys = superseded_keys(resolve)
        assert raise_.key in keys
        assert escalation.key in keys
        others = {n.key for n in raised if n.address != resolve.address}
        assert others.isdisjoint(keys)
    assert superseded_keys(raised[0]) == []
