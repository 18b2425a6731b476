"""Bearer tokens (HS256 with the secret; RS256 through a JWKS served on 127.0.0.1) and the
role -> permission check."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from api.auth import (
    ROLE_PERMISSIONS,
    Permission,
    Principal,
    Unauthenticated,
    authenticate,
    authorize,
    bearer_token,
    caller_from_header,
    issue_token,
)
from fleetwatch.settings import Settings
from write_side.errors import Forbidden

SECRET = "unit-test-secret-of-sufficient-length"


def hs_settings(**changes: Any) -> Settings:
    base: dict[str, Any] = {
        "jwt_secret": SECRET,
        "jwks_url": None,
        "jwt_issuer": None,
        "jwt_audience": None,
    }
    return Settings(**(base | changes))


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "alice", "tenant_id": "acme", "roles": ["operator"], "exp": now + 60} | changes


# HS256


def test_a_token_issued_with_the_secret_authenticates() -> None:
    settings = hs_settings()
    principal = authenticate(issue_token(settings, "alice", "acme", ["viewer"], 60), settings)
    assert (principal.subject, principal.tenant_id, principal.roles) == (
        "alice",
        "acme",
        frozenset({"viewer"}),
    )
    assert principal.actor == "user:alice"
    assert principal.metadata().tenant_id == "acme"


def test_an_expired_token_is_unauthenticated() -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 120), SECRET, algorithm="HS256")
    with pytest.raises(Unauthenticated, match="expired"):
        authenticate(token, hs_settings())


def test_a_token_signed_with_another_secret_is_unauthenticated() -> None:
    token = jwt.encode(claims(), "another-secret-of-sufficient-length!", algorithm="HS256")
    with pytest.raises(Unauthenticated, match="Signature verification failed"):
        authenticate(token, hs_settings())


@pytest.mark.parametrize("missing", ["tenant_id", "sub", "exp"])
def test_a_token_without_a_required_claim_is_unauthenticated(missing: str) -> None:
    payload = claims()
    del payload[missing]
    with pytest.raises(Unauthenticated):
        authenticate(jwt.encode(payload, SECRET, algorithm="HS256"), hs_settings())


def test_an_unsigned_token_is_refused() -> None:
    token = jwt.encode(claims(), key=None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated):
        authenticate(token, hs_settings())


def test_issuer_and_audience_are_checked_when_set() -> None:
    settings = hs_settings(jwt_issuer="https://idp.example", jwt_audience="fleetwatch")
    good = issue_token(settings, "alice", "acme", ["viewer"], 60)
    assert authenticate(good, settings).subject == "alice"
    for payload in (
        claims(iss="https://evil.example", aud="fleetwatch"),
        claims(iss="https://idp.example", aud="someone-else"),
        claims(),  # neither claim
    ):
        with pytest.raises(Unauthenticated):
            authenticate(jwt.encode(payload, SECRET, algorithm="HS256"), settings)


def test_claim_names_come_from_settings_and_roles_may_be_a_string() -> None:
    settings = hs_settings(tenant_claim="custom:tenant", roles_claim="cognito:groups")
    payload = {"sub": "bob", "custom:tenant": "t9", "cognito:groups": "viewer auditor"}
    token = jwt.encode(payload | {"exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    principal = authenticate(token, settings)
    assert principal.tenant_id == "t9"
    assert principal.roles == frozenset({"viewer", "auditor"})


def test_garbage_and_oversized_tokens_are_unauthenticated() -> None:
    for token in ("abc", "a.b.c", "x" * 10_000):
        with pytest.raises(Unauthenticated):
            authenticate(token, hs_settings())


def test_bearer_header_parsing() -> None:
    assert bearer_token(None) is None
    assert bearer_token("  ") is None
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc ") == "abc"
    for bad in ("Basic abc", "Bearer", "abc"):
        with pytest.raises(Unauthenticated):
            bearer_token(bad)
    failure = caller_from_header("Bearer nonsense", hs_settings())
    assert isinstance(failure, Unauthenticated)


# RS256 through a JWKS


@dataclass
class KeyPair:
    kid: str
    private: rsa.RSAPrivateKey

    def jwk(self) -> dict[str, Any]:
        key: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return key | {"kid": self.kid, "use": "sig", "alg": "RS256"}

    def sign(self, payload: dict[str, Any]) -> str:
        return jwt.encode(payload, self.private, algorithm="RS256", headers={"kid": self.kid})


def new_key() -> KeyPair:
    return KeyPair(uuid.uuid4().hex, rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def signing_key() -> KeyPair:
    return new_key()


@pytest.fixture(scope="module")
def jwks_url(signing_key: KeyPair) -> Iterator[str]:
    body = json.dumps({"keys": [signing_key.jwk()]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()


def rs_settings(jwks_url: str) -> Settings:
    return hs_settings(
        jwks_url=jwks_url, jwt_issuer="https://idp.example", jwt_audience="fleetwatch"
    )


def rs_claims(**changes: Any) -> dict[str, Any]:
    return claims(iss="https://idp.example", aud="fleetwatch") | changes


def test_an_rs256_token_verifies_against_the_jwks(jwks_url: str, signing_key: KeyPair) -> None:
    principal = authenticate(signing_key.sign(rs_claims()), rs_settings(jwks_url))
    assert (principal.subject, principal.tenant_id) == ("alice", "acme")


def test_an_rs256_token_from_an_unknown_key_is_unauthenticated(jwks_url: str) -> None:
    with pytest.raises(Unauthenticated):
        authenticate(new_key().sign(rs_claims()), rs_settings(jwks_url))


def test_an_expired_rs256_token_is_unauthenticated(jwks_url: str, signing_key: KeyPair) -> None:
    token = signing_key.sign(rs_claims(exp=int(time.time()) - 120))
    with pytest.raises(Unauthenticated, match="expired"):
        authenticate(token, rs_settings(jwks_url))


def test_hs256_tokens_are_refused_when_a_jwks_is_configured(jwks_url: str) -> None:
    token = jwt.encode(rs_claims(), SECRET, algorithm="HS256", headers={"kid": "x"})
    with pytest.raises(Unauthenticated):
        authenticate(token, rs_settings(jwks_url))


def test_an_unreachable_jwks_is_unauthenticated(signing_key: KeyPair) -> None:
    settings = rs_settings("http://127.0.0.1:9/jwks.json")  # discard port: refused
    with pytest.raises(Unauthenticated, match="signing keys unavailable"):
        authenticate(signing_key.sign(rs_claims()), settings)


def test_tokens_cannot_be_issued_when_a_jwks_is_configured(jwks_url: str) -> None:
    with pytest.raises(ValueError, match="identity provider"):
        issue_token(rs_settings(jwks_url), "alice", "acme", ["admin"], 60)


# Roles


def principal(*roles: str, expires_in: float = 60) -> Principal:
    return Principal("alice", "acme", frozenset(roles), expires_at=time.time() + expires_in)


@pytest.mark.parametrize(
    ("role", "granted"),
    [
        ("viewer", {Permission.READ_DEVICES, Permission.READ_ALERTS, Permission.READ_FIRMWARE}),
        (
            "operator",
            {
                Permission.READ_DEVICES,
                Permission.WRITE_DEVICES,
                Permission.READ_ALERTS,
                Permission.WRITE_ALERTS,
                Permission.READ_FIRMWARE,
                Permission.WRITE_DEPLOYMENTS,
                Permission.EXPORT_DATA,
            },
        ),
        (
            "auditor",
            {
                Permission.READ_DEVICES,
                Permission.READ_EVENTS,
                Permission.READ_ALERTS,
                Permission.READ_FIRMWARE,
                Permission.EXPORT_DATA,
            },
        ),
        ("admin", set(Permission)),
        ("unknown-role", set()),
    ],
)
def test_each_role_grants_its_permissions_only(role: str, granted: set[Permission]) -> None:
    if role in ROLE_PERMISSIONS:  # every known role sees its own profile
        granted = granted | {Permission.PROFILE_SELF}
    if role in ROLE_PERMISSIONS and role != "auditor":  # the auditor changes nothing (19.3)
        granted = granted | {Permission.EDIT_PROFILE}
    caller = principal(role)
    for permission in Permission:
        if permission in granted:
            assert authorize(caller, permission) is caller
        else:
            with pytest.raises(Forbidden):
                authorize(caller, permission)


def test_roles_add_up() -> None:
    caller = principal("viewer", "auditor")
    assert authorize(caller, Permission.READ_EVENTS) is caller
    with pytest.raises(Forbidden):
        authorize(caller, Permission.WRITE_DEVICES)


def test_no_or_failed_credentials_are_unauthenticated_not_forbidden() -> None:
    with pytest.raises(Unauthenticated, match="authentication required"):
        authorize(None, Permission.READ_DEVICES)
    with pytest.raises(Unauthenticated, match="bad thing"):
        authorize(Unauthenticated("bad thing"), Permission.READ_DEVICES)


def test_a_principal_whose_token_has_since_expired_is_unauthenticated() -> None:
    with pytest.raises(Unauthenticated, match="expired"):
        authorize(principal("admin", expires_in=-120), Permission.READ_DEVICES)
