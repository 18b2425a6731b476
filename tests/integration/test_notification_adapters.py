"""The real SES, SNS and FCM adapters over the network: SES and SNS against moto's server mode
(boto3 talks HTTP to it), FCM against recorded FCM HTTP v1 responses served on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from uuid import UUID

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from fleetwatch.bootstrap import application_env
from fleetwatch.settings import Settings
from notifications.aws import aws_client
from notifications.dispatcher import Dispatcher
from notifications.fcm import (
    AccessTokenProvider,
    FCMPushSender,
    ServiceAccountTokens,
    StaticAccessToken,
)
from notifications.outbox import Outbox
from notifications.outbox_sqlite import SQLiteOutbox
from notifications.port import DeliveryResult
from notifications.ses import KEY_HEADER, SESEmailSender
from notifications.sns import SNSSmsSender
from write_side.application import FleetApplication
from write_side.notifications import Notification, dedup_key

REGION = "us-east-1"
SENDER = "alerts@fleetwatch.example"
ALERT = UUID("00000000-0000-4000-8000-0000000000a1")
USER = UUID("00000000-0000-4000-8000-00000000a11c")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def notification(channel: str, address: str, severity: str = "critical") -> Notification:
    return Notification(
        key=dedup_key(
            tenant_id="acme", alert_id=ALERT, transition="raised", user_id=USER, channel=channel
        ),
        tenant_id="acme",
        user_id=USER,
        channel=channel,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        subject="[CRITICAL] Alert: Boiler too hot",
        body="temp > 80 (83.2)",
        alert_id=ALERT,
        transition="raised",
        address=address,
    )


# ---------------------------------------------------------------- moto server: SES and SNS
# (`moto_url`: the session's moto server, tests/integration/conftest.py)


def test_ses_sends_an_email_with_the_key_as_tag_and_header(moto_url: str) -> None:
    client = aws_client("sesv2", REGION, moto_url)
    client.create_email_identity(EmailIdentity=SENDER)
    sender = SESEmailSender(client, SENDER)
    result = sender.send(notification("email", "alice@example.com"))
    assert result.outcome == "sent"
    assert result.provider_id
    (message,) = [
        m
        for m in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
        if getattr(m, "id", None) == result.provider_id
    ]
    assert message.destinations["ToAddresses"] == ["alice@example.com"]
    assert message.subject == "[CRITICAL] Alert: Boiler too hot"
    assert message.body == "temp > 80 (83.2)"


def test_ses_request_carries_the_idempotency_hints(moto_url: str) -> None:
    client = aws_client("sesv2", REGION, moto_url)
    client.create_email_identity(EmailIdentity=SENDER)
    seen: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.sesv2.SendEmail", lambda params, **_: seen.append(params)
    )
    n = notification("email", "alice@example.com")
    assert SESEmailSender(client, SENDER).send(n).outcome == "sent"
    (params,) = seen
    assert params["Content"]["Simple"]["Headers"] == [{"Name": KEY_HEADER, "Value": n.key}]
    assert {"Name": "fleetwatch_notification_key", "Value": n.key} in params["EmailTags"]


def test_ses_rejects_an_unverified_sender_for_good(moto_url: str) -> None:
    client = aws_client("sesv2", REGION, moto_url)
    result = SESEmailSender(client, "nobody@unverified.example").send(
        notification("email", "alice@example.com")
    )
    assert result.outcome == "failed"
    assert result.error is not None
    assert "MessageRejected" in result.error


def test_sns_sends_an_sms(moto_url: str) -> None:
    sender = SNSSmsSender(aws_client("sns", REGION, moto_url), sender_id="Fleetwatch")
    result = sender.send(notification("sms", "+4915112345678"))
    assert result.outcome == "sent"
    messages = sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages
    assert messages[str(result.provider_id)] == (
        "+4915112345678",
        "[CRITICAL] Alert: Boiler too hot\ntemp > 80 (83.2)",
    )


def test_sns_rejects_a_malformed_number_for_good(moto_url: str) -> None:
    sender = SNSSmsSender(aws_client("sns", REGION, moto_url))
    result = sender.send(notification("sms", "0170-not-a-number"))
    assert result.outcome == "failed"
    assert result.error is not None
    assert "InvalidParameter" in result.error


def test_an_unreachable_aws_endpoint_is_a_retry() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    result = SNSSmsSender(aws_client("sns", REGION, dead)).send(notification("sms", "+491511"))
    assert result.outcome == "retry"


# ---------------------------------------------------------------- FCM: recorded responses


def fcm_error(code: int, status: str, message: str, error_code: str) -> dict[str, Any]:
    """An FCM v1 error body, as the service sends it."""
    return {
        "error": {
            "code": code,
            "message": message,
            "status": status,
            "details": [
                {
                    "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                    "errorCode": error_code,
                }
            ],
        }
    }


# Recorded responses by registration token: (status, headers, body).
RECORDED: dict[str, tuple[int, dict[str, str], dict[str, Any]]] = {
    "good-token": (200, {}, {"name": "projects/fleetwatch-test/messages/0:1700000000000000%abc"}),
    "dead-token": (
        404,
        {},
        fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"),
    ),
    "busy-token": (
        429,
        {"Retry-After": "17"},
        fcm_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Send requests' and limit 'Send requests per "
            "minute' of service 'fcm.googleapis.com'.",
            "QUOTA_EXCEEDED",
        ),
    ),
    "broken-token": (
        500,
        {},
        fcm_error(500, "INTERNAL", "Internal error encountered.", "INTERNAL"),
    ),
    "bad-token": (
        400,
        {},
        fcm_error(
            400,
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
            "INVALID_ARGUMENT",
        ),
    ),
}


class FakeFCM:
    """FCM v1 `messages:send` and a Google OAuth token endpoint, on 127.0.0.1."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.token_requests: list[dict[str, list[str]]] = []
        self.expired_bearers: set[str] = set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/token":
                    fake.token_requests.append(parse_qs(raw.decode()))
                    n = len(fake.token_requests)
                    self._reply(200, {}, {"access_token": f"ya29.t{n}", "expires_in": 3599})
                    return
                body = json.loads(raw)
                bearer = self.headers.get("Authorization", "")
                fake.requests.append({"path": self.path, "auth": bearer, "body": body})
                if bearer.removeprefix("Bearer ") in fake.expired_bearers:
                    error = fcm_error(401, "UNAUTHENTICATED", "Request had invalid auth", "")
                    self._reply(401, {}, error)
                    return
                self._reply(*RECORDED[body["message"]["token"]])

            def _reply(self, status: int, headers: dict[str, str], body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fcm() -> Iterator[FakeFCM]:
    fake = FakeFCM()
    yield fake
    fake.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


def push_sender(
    fcm: FakeFCM, http: httpx.Client, tokens: AccessTokenProvider | None = None
) -> FCMPushSender:
    return FCMPushSender(
        "fleetwatch-test", tokens or StaticAccessToken("ya29.static"), http, fcm.url
    )


def test_fcm_success_sends_a_v1_message_with_collapse_keys(
    fcm: FakeFCM, http: httpx.Client
) -> None:
    n = notification("push", "good-token")
    result = push_sender(fcm, http).send(n)
    assert result == DeliveryResult.sent("projects/fleetwatch-test/messages/0:1700000000000000%abc")
    request = fcm.requests[-1]
    assert request["path"] == "/v1/projects/fleetwatch-test/messages:send"
    assert request["auth"] == "Bearer ya29.static"
    message = request["body"]["message"]
    assert message["token"] == "good-token"
    assert message["notification"] == {"title": n.subject, "body": n.body}
    assert message["data"]["notificationKey"] == n.key
    assert message["data"]["alertId"] == str(ALERT)
    assert message["android"] == {"collapse_key": n.key, "priority": "HIGH"}
    assert message["apns"]["headers"]["apns-collapse-id"] == n.key[:64]
    assert message["webpush"]["headers"]["Topic"] == n.key[:32]


def test_fcm_unregistered_token_is_a_dead_address(fcm: FakeFCM, http: httpx.Client) -> None:
    result = push_sender(fcm, http).send(notification("push", "dead-token"))
    assert (result.outcome, result.address_invalid) == ("failed", True)
    assert result.error is not None
    assert "UNREGISTERED" in result.error


def test_fcm_429_is_retried_after_retry_after(fcm: FakeFCM, http: httpx.Client) -> None:
    result = push_sender(fcm, http).send(notification("push", "busy-token"))
    assert (result.outcome, result.retry_after) == ("retry", 17.0)
    assert result.error is not None
    assert "QUOTA_EXCEEDED" in result.error


def test_fcm_500_is_retried(fcm: FakeFCM, http: httpx.Client) -> None:
    result = push_sender(fcm, http).send(notification("push", "broken-token"))
    assert (result.outcome, result.retry_after, result.address_invalid) == ("retry", None, False)


def test_fcm_400_fails_without_dropping_the_token(fcm: FakeFCM, http: httpx.Client) -> None:
    result = push_sender(fcm, http).send(notification("push", "bad-token"))
    assert (result.outcome, result.address_invalid) == ("failed", False)


def test_fcm_unreachable_is_a_retry(http: httpx.Client) -> None:
    sender = FCMPushSender(
        "p", StaticAccessToken("t"), http, base_url=f"http://127.0.0.1:{free_port()}"
    )
    assert sender.send(notification("push", "good-token")).outcome == "retry"


def service_account(fcm: FakeFCM) -> tuple[dict[str, str], Any]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = pem_of(key)
    info = {
        "type": "service_account",
        "client_email": "fcm-sender@fleetwatch-test.iam.gserviceaccount.com",
        "private_key_id": "k1",
        "private_key": pem,
        "token_uri": f"{fcm.url}/token",
    }
    return info, key.public_key()


def test_service_account_tokens_are_fetched_cached_and_renewed(
    fcm: FakeFCM, http: httpx.Client
) -> None:
    info, public_key = service_account(fcm)
    now = [1_700_000_000.0]
    tokens = ServiceAccountTokens(info, http, clock=lambda: now[0])
    before = len(fcm.token_requests)
    sender = push_sender(fcm, http, tokens)
    assert sender.send(notification("push", "good-token")).outcome == "sent"
    assert sender.send(notification("push", "good-token")).outcome == "sent"
    assert len(fcm.token_requests) == before + 1  # cached
    grant = fcm.token_requests[-1]
    assert grant["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(
        grant["assertion"][0],
        public_key,
        algorithms=["RS256"],
        audience=info["token_uri"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iss"] == info["client_email"]
    assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
    assert jwt.get_unverified_header(grant["assertion"][0])["kid"] == "k1"
    first_bearer = fcm.requests[-1]["auth"]
    now[0] += 3600  # expired: a new token
    assert sender.send(notification("push", "good-token")).outcome == "sent"
    assert len(fcm.token_requests) == before + 2
    assert fcm.requests[-1]["auth"] != first_bearer


def test_a_rejected_bearer_is_dropped_and_the_send_retried(
    fcm: FakeFCM, http: httpx.Client
) -> None:
    info, _ = service_account(fcm)
    tokens = ServiceAccountTokens(info, http)
    sender = push_sender(fcm, http, tokens)
    assert sender.send(notification("push", "good-token")).outcome == "sent"
    fcm.expired_bearers.add(fcm.requests[-1]["auth"].removeprefix("Bearer "))
    assert sender.send(notification("push", "good-token")).outcome == "retry"
    assert sender.send(notification("push", "good-token")).outcome == "sent"  # a fresh token


def test_no_access_token_is_a_retry(http: httpx.Client) -> None:
    info = {
        "client_email": "x@y",
        "private_key": pem_of(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "token_uri": f"http://127.0.0.1:{free_port()}/token",
    }
    sender = FCMPushSender("p", ServiceAccountTokens(info, http), http, "http://127.0.0.1:9")
    result = sender.send(notification("push", "good-token"))
    assert result.outcome == "retry"
    assert result.error is not None
    assert "access token" in result.error


def pem_of(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


# ---------------------------------------------------------------- through the dispatcher


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    settings = Settings(store="sqlite", sqlite_path=tmp_path / "fleet.sqlite3")
    app = FleetApplication(env=application_env(settings))
    recorder = app.factory.tracking_recorder(SQLiteOutbox)
    assert isinstance(recorder, SQLiteOutbox)
    yield recorder
    app.close()


def test_the_dispatcher_routes_channels_and_forgets_dead_push_tokens(
    moto_url: str, fcm: FakeFCM, http: httpx.Client, outbox: Outbox
) -> None:
    ses = aws_client("sesv2", REGION, moto_url)
    ses.create_email_identity(EmailIdentity=SENDER)
    now = datetime.now(UTC)
    batch = [
        notification("email", "alice@example.com"),
        notification("sms", "+4915112345678"),
        replace(notification("push", "good-token"), key="k-good"),
        replace(notification("push", "dead-token"), key="k-dead"),
    ]
    outbox.add(batch, now)
    dead: list[str] = []
    dispatcher = Dispatcher(
        outbox,
        {
            "email": SESEmailSender(ses, SENDER),
            "sms": SNSSmsSender(aws_client("sns", REGION, moto_url)),
            "push": push_sender(fcm, http),
        },
        on_address_invalid=lambda n: dead.append(n.address),
    )
    stats = dispatcher.drain()
    assert (stats.sent, stats.failed) == (3, 1)
    assert dead == ["dead-token"]
    statuses = {n.key: getattr(outbox.get("acme", n.key), "status", None) for n in batch}
    assert statuses == {
        batch[0].key: "sent",
        batch[1].key: "sent",
        "k-good": "sent",
        "k-dead": "failed",
    }
