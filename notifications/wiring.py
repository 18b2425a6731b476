"""Builders for the composition root: the outbox on the application's store, the channel
senders named by settings, and a dispatcher that removes dead push tokens from their users.

    outbox = build_outbox(app)
    senders = build_senders(["ses", "fcm"], region=..., ses_from=..., fcm_project_id=...,
                            fcm_credentials_file=...)
    dispatcher = build_dispatcher(app, outbox, senders); dispatcher.start()
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from notifications.dispatcher import Backoff, Dispatcher
from notifications.outbox import Outbox
from notifications.outbox_sqlite import SQLiteOutbox
from notifications.port import NotificationSender
from write_side.application import FleetApplication
from write_side.notifications import Notification
from write_side.user_service import UserService

log = logging.getLogger(__name__)

SENDER_NAMES = ("log", "ses", "sns", "fcm")


def build_outbox(app: FleetApplication) -> Outbox:
    """The outbox in the application's own store (SQLite file or DynamoDB tables)."""
    from event_store.dynamodb import DynamoDBFactory

    if isinstance(app.factory, DynamoDBFactory):
        from notifications.outbox_dynamodb import DynamoDBOutbox

        outbox: object = app.factory.tracking_recorder(DynamoDBOutbox)
    else:
        outbox = app.factory.tracking_recorder(SQLiteOutbox)
    if not isinstance(outbox, Outbox):
        raise TypeError(f"no outbox for the persistence module of {app.factory}")
    return outbox


def build_senders(
    names: Iterable[str],
    *,
    region: str,
    ses_from: str | None = None,
    fcm_project_id: str | None = None,
    fcm_credentials_file: Path | None = None,
    endpoint_url: str | None = None,
) -> dict[str, NotificationSender]:
    """Senders by channel for `names` (`log` = none: every channel writes a log line)."""
    chosen = {name.strip() for name in names if name.strip()}
    unknown = chosen - set(SENDER_NAMES)
    if unknown:
        raise ValueError(f"unknown notification senders {sorted(unknown)}; use {SENDER_NAMES}")
    senders: dict[str, NotificationSender] = {}
    if "ses" in chosen:
        from notifications.ses import SESEmailSender

        if not ses_from:
            raise ValueError("the ses sender needs a From address (FLEETWATCH_SES_FROM)")
        senders["email"] = SESEmailSender.connect(ses_from, region, endpoint_url)
    if "sns" in chosen:
        from notifications.sns import SNSSmsSender

        senders["sms"] = SNSSmsSender.connect(region, endpoint_url)
    if "fcm" in chosen:
        import httpx  # here: only the fcm sender needs it

        from notifications.fcm import FCMPushSender, ServiceAccountTokens

        if not fcm_project_id or fcm_credentials_file is None:
            raise ValueError("the fcm sender needs FLEETWATCH_FCM_PROJECT_ID and _CREDENTIALS_FILE")
        http = httpx.Client(timeout=10)
        tokens = ServiceAccountTokens.from_file(fcm_credentials_file, http)
        senders["push"] = FCMPushSender(fcm_project_id, tokens, http)
    return senders


def build_dispatcher(
    app: FleetApplication,
    outbox: Outbox,
    senders: Mapping[str, NotificationSender],
    backoff: Backoff | None = None,
) -> Dispatcher:
    """A dispatcher whose dead push tokens are removed from their users (`User.PushTokenRemoved`
    with reason `unregistered`, actor `system:notifier`)."""

    users = UserService(app)

    def forget(notification: Notification) -> None:
        users.forget_unregistered_token(
            notification.tenant_id,
            notification.user_id,
            notification.address,
            causation_id=None,
        )
        log.info("removed a dead push token of user %s", notification.user_id)

    return Dispatcher(outbox, senders, backoff=backoff, on_address_invalid=forget)
