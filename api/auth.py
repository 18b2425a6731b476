"""Who is calling, and what they may do.

Bearer JWTs: HS256 with `settings.jwt_secret` (development), or RS256 with keys from
`settings.jwks_url` (e.g. a Cognito user pool). Issuer and audience are checked when set. The
tenant and roles come from the claims named by `settings.tenant_claim` / `settings.roles_claim`.

Roles grant permissions (`ROLE_PERMISSIONS`); `authorize` is the one permission check, used by
every GraphQL resolver and REST route.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt

from api.ports import AuthSettings
from event_store.envelope import EventMetadata
from write_side.errors import Forbidden

log = logging.getLogger(__name__)

MAX_TOKEN_LENGTH = 8192
LEEWAY_SECONDS = 30  # clock skew tolerated on exp/nbf/iat


class Unauthenticated(Exception):
    """No credentials, or credentials that do not prove who the caller is."""

    code = "UNAUTHENTICATED"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Permission(StrEnum):
    READ_DEVICES = "devices:read"
    WRITE_DEVICES = "devices:write"
    READ_EVENTS = "events:read"
    READ_ALERTS = "alerts:read"  # alerts, the alert timeline, alert rules
    WRITE_ALERTS = "alerts:write"  # acknowledge, resolve
    WRITE_RULES = "rules:write"  # create, revise, delete alert rules
    PROFILE_SELF = "profile:self"  # `me`: every role
    EDIT_PROFILE = "profile:edit"  # change my profile, preferences, push tokens: not auditors
    READ_FIRMWARE = "firmware:read"  # releases, deployments, executions, compliance
    UPLOAD_FIRMWARE = "firmware:upload"  # upload, withdraw, signing keys (admin only)
    WRITE_DEPLOYMENTS = "deployments:write"  # create, pause, resume, cancel, finish
    APPROVE_DEPLOYMENTS = "deployments:approve"  # approve a wave (admin only)
    EXPORT_DATA = "analytics:export"  # request and read exports (docs/analytics.md 20.5)
    ERASE_USERS = "users:erase"  # erase another user's personal data (admin only, 19.7)


# What every role may do: read devices, alerts and firmware (releases, rollouts), and see its
# own profile. Every role but the auditor (who changes nothing, docs/audit.md 19.3) may also
# change its own profile, preferences and push tokens.
EVERY_ROLE = frozenset(
    {
        Permission.READ_DEVICES,
        Permission.READ_ALERTS,
        Permission.READ_FIRMWARE,
        Permission.PROFILE_SELF,
    }
)
ROLE_PERMISSIONS: Mapping[str, frozenset[Permission]] = {
    "viewer": EVERY_ROLE | {Permission.EDIT_PROFILE},
    "operator": EVERY_ROLE
    | {
        Permission.EDIT_PROFILE,
        Permission.WRITE_DEVICES,
        Permission.WRITE_ALERTS,
        Permission.WRITE_DEPLOYMENTS,
        Permission.EXPORT_DATA,
    },
    "auditor": EVERY_ROLE | {Permission.READ_EVENTS, Permission.EXPORT_DATA},
    "admin": frozenset(Permission),
}
ROLES = tuple(ROLE_PERMISSIONS)


@dataclass(frozen=True)
class Principal:
    subject: str
    tenant_id: str
    roles: frozenset[str]
    expires_at: float | None = None  # epoch seconds (the token's exp)

    @property
    def actor(self) -> str:
        return f"user:{self.subject}"

    @property
    def permissions(self) -> frozenset[Permission]:
        return frozenset().union(*(ROLE_PERMISSIONS.get(role, ()) for role in self.roles))

    def metadata(self) -> EventMetadata:
        """The metadata of a command this caller sends."""
        return EventMetadata(tenant_id=self.tenant_id, actor=self.actor)


Caller = Principal | Unauthenticated | None  # None: no credentials were presented


def authorize(caller: Caller, permission: Permission) -> Principal:
    """The caller, if authenticated (and not expired since) and granted `permission`."""
    if caller is None:
        raise Unauthenticated("authentication required: send a bearer token")
    if isinstance(caller, Unauthenticated):
        raise Unauthenticated(caller.message)
    if caller.expires_at is not None and caller.expires_at < time.time() - LEEWAY_SECONDS:
        raise Unauthenticated("token expired")
    if permission not in caller.permissions:
        roles = ", ".join(sorted(caller.roles)) or "none"
        raise Forbidden(f"permission {permission} is not granted to roles: {roles}")
    return caller


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value; None when absent."""
    if authorization is None or not authorization.strip():
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("expected an 'Authorization: Bearer <token>' header")
    return token.strip()


def caller_from_header(authorization: str | None, settings: AuthSettings) -> Caller:
    """Authenticate a header value, keeping the failure to report it where it matters."""
    try:
        token = bearer_token(authorization)
        return None if token is None else authenticate(token, settings)
    except Unauthenticated as e:
        return e


def authenticate(token: str, settings: AuthSettings) -> Principal:
    """Verify `token` and read the caller from it; any failure raises `Unauthenticated`."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated("token too long")
    try:
        key, algorithm = _verification_key(token, settings)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=LEEWAY_SECONDS,
            options={
                "require": ["exp", "sub"],
                "verify_aud": settings.jwt_audience is not None,
            },
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("token expired") from None
    except jwt.PyJWKClientConnectionError as e:
        log.warning("cannot fetch the JWKS from %s: %s", settings.jwks_url, e)
        raise Unauthenticated("cannot verify the token now: signing keys unavailable") from None
    except jwt.PyJWTError as e:
        raise Unauthenticated(f"invalid token: {e}") from None
    return _principal(claims, settings)


def issue_token(
    settings: AuthSettings,
    subject: str,
    tenant_id: str,
    roles: Iterable[str],
    ttl_seconds: int,
) -> str:
    """A token signed with the HS256 secret (development and the CLI's `token issue`)."""
    if settings.jwks_url:
        raise ValueError(
            "tokens come from the identity provider when jwks_url is set (RS256); "
            "unset FLEETWATCH_JWKS_URL to issue development tokens"
        )
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        settings.tenant_claim: tenant_id,
        settings.roles_claim: sorted(set(roles)),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def _verification_key(token: str, settings: AuthSettings) -> tuple[Any, str]:
    if settings.jwks_url:
        return _jwks_client(settings.jwks_url).get_signing_key_from_jwt(token).key, "RS256"
    return settings.jwt_secret, "HS256"


@functools.lru_cache(maxsize=8)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    """One client per JWKS URL: it caches the key set (5 min) and the keys it has used."""
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=5)


def _principal(claims: Mapping[str, Any], settings: AuthSettings) -> Principal:
    subject = claims.get("sub")
    tenant_id = claims.get(settings.tenant_claim)
    if not isinstance(subject, str) or not subject:
        raise Unauthenticated("invalid token: 'sub' must be a non-empty string")
    if not isinstance(tenant_id, str) or not tenant_id.strip():
        raise Unauthenticated(f"invalid token: no tenant (claim {settings.tenant_claim!r})")
    expires = claims.get("exp")
    return Principal(
        subject=subject,
        tenant_id=tenant_id,
        roles=_roles(claims.get(settings.roles_claim)),
        expires_at=float(expires) if isinstance(expires, int | float) else None,
    )


def _roles(value: object) -> frozenset[str]:
    """Roles as a list of strings, or one string separated by spaces or commas."""
    if isinstance(value, str):
        return frozenset(value.replace(",", " ").split())
    if isinstance(value, list):
        return frozenset(item for item in value if isinstance(item, str))
    return frozenset()
