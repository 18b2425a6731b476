"""Push through Firebase Cloud Messaging, HTTP v1 API (`projects/{id}/messages:send`), over
httpx with an OAuth 2.0 bearer token from an `AccessTokenProvider`.

The notification key is the collapse key on every platform (Android `collapse_key`, APNs
`apns-collapse-id`, Web Push `Topic`), so a resend of the same notification replaces the
undelivered copy on the device instead of stacking a second one; it is also in `data`.

Responses: 200 -> sent (the message name); 404 or `UNREGISTERED`, and `SENDER_ID_MISMATCH` ->
failed with `address_invalid` (the token is dead: the dispatcher removes it from the user);
429 and 5xx -> retry, honouring `Retry-After`; 401 -> the cached access token is dropped and the
send retried; other 4xx -> failed.
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import jwt

from notifications.port import DeliveryResult, NotificationSender
from write_side.notifications import Notification

FCM_URL = "https://fcm.googleapis.com"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEAD_TOKEN_CODES = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})


class AccessTokenError(Exception):
    """No access token could be obtained (the send is retried later)."""


class AccessTokenProvider(ABC):
    @abstractmethod
    def token(self) -> str:
        """A valid bearer token; raises `AccessTokenError` when none can be had now."""

    def invalidate(self) -> None:  # noqa: B027 - optional hook; a static token has nothing to drop
        """Forget a cached token the server rejected."""


class StaticAccessToken(AccessTokenProvider):
    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        return self._token


class ServiceAccountTokens(AccessTokenProvider):
    """Tokens for a Google service account (JWT-bearer grant, RS256 assertion signed with
    pyjwt), cached until a minute before they expire."""

    def __init__(
        self,
        info: Mapping[str, str],
        http: httpx.Client,
        scope: str = FCM_SCOPE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.info, self.http, self.scope, self.clock = info, http, scope, clock
        self._lock = threading.Lock()
        self._cached: tuple[str, float] | None = None  # (token, expires at)

    @classmethod
    def from_file(cls, path: Path, http: httpx.Client) -> ServiceAccountTokens:
        return cls(json.loads(path.read_text()), http)

    def token(self) -> str:
        with self._lock:
            now = self.clock()
            if self._cached is not None and self._cached[1] - 60 > now:
                return self._cached[0]
            token, lifetime = self._fetch(now)
            self._cached = (token, now + lifetime)
            return token

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    def _fetch(self, now: float) -> tuple[str, float]:
        claims = {
            "iss": self.info["client_email"],
            "scope": self.scope,
            "aud": self.info["token_uri"],
            "iat": int(now),
            "exp": int(now) + 3600,
        }
        headers = {"kid": self.info["private_key_id"]} if "private_key_id" in self.info else None
        assertion = jwt.encode(claims, self.info["private_key"], "RS256", headers=headers)
        try:
            response = self.http.post(
                self.info["token_uri"],
                data={"grant_type": JWT_BEARER_GRANT, "assertion": assertion},
            )
            response.raise_for_status()
            body = response.json()
            return str(body["access_token"]), float(body.get("expires_in", 3600))
        except (httpx.HTTPError, ValueError, KeyError) as e:
            raise AccessTokenError(f"cannot get an FCM access token: {e}") from e


class FCMPushSender(NotificationSender):
    def __init__(
        self,
        project_id: str,
        tokens: AccessTokenProvider,
        http: httpx.Client,
        base_url: str = FCM_URL,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/v1/projects/{project_id}/messages:send"
        self.tokens, self.http = tokens, http

    def send(self, notification: Notification) -> DeliveryResult:
        try:
            bearer = self.tokens.token()
        except AccessTokenError as e:
            return DeliveryResult.retry(str(e))
        try:
            response = self.http.post(
                self.url,
                json={"message": message(notification)},
                headers={"Authorization": f"Bearer {bearer}"},
            )
        except httpx.HTTPError as e:
            return DeliveryResult.retry(f"{type(e).__name__}: {e}")
        if response.status_code == 401:
            self.tokens.invalidate()
        return result_of(response)


def message(notification: Notification) -> dict[str, Any]:
    """The FCM v1 `Message` for a notification (`address` is the device's registration token)."""
    key, urgent = notification.key, notification.severity == "critical"
    return {
        "token": notification.address,
        "notification": {"title": notification.subject, "body": notification.body},
        "data": {
            "notificationKey": key,
            "alertId": str(notification.alert_id),
            "severity": notification.severity,
            "transition": notification.transition,
        },
        "android": {"collapse_key": key, "priority": "HIGH" if urgent else "NORMAL"},
        "apns": {
            "headers": {"apns-collapse-id": key[:64], "apns-priority": "10" if urgent else "5"}
        },
        "webpush": {"headers": {"Topic": key[:32], "Urgency": "high" if urgent else "normal"}},
    }


def result_of(response: httpx.Response) -> DeliveryResult:
    status = response.status_code
    if status == 200:
        return DeliveryResult.sent(provider_id=str(_json(response).get("name")))
    code, text = _error(response)
    detail = f"FCM {status} {code}: {text}".strip()
    if status == 404 or code in DEAD_TOKEN_CODES:
        return DeliveryResult.failed(detail, address_invalid=True)
    if status in {401, 408, 429} or status >= 500:
        return DeliveryResult.retry(detail, retry_after=_retry_after(response))
    return DeliveryResult.failed(detail)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error(response: httpx.Response) -> tuple[str, str]:
    """The FcmError code (else the status name) and message of an error response."""
    error = _json(response).get("error") or {}
    codes = [
        detail.get("errorCode")
        for detail in error.get("details") or ()
        if isinstance(detail, dict) and detail.get("errorCode")
    ]
    code = codes[0] if codes else error.get("status") or ""
    return str(code), str(error.get("message") or response.reason_phrase)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
