"""Settings that are secrets, read from Secrets Manager (moto's server mode; fleetwatch/secrets.py)
at a function's cold start: the audit signing key derived from the seed the stack generates,
the same for every function, an operator's environment winning, bad secrets named."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from fleetwatch.ledger import signing_key
from fleetwatch.secrets import (
    KEY,
    SECRETS,
    SecretsError,
    load_secrets,
    signing_key_from_seed,
)
from fleetwatch.settings import Settings


def _client(moto_url: str) -> object:
    return boto3.client("secretsmanager", endpoint_url=moto_url, region_name="us-east-1")


def _secret(moto_url: str, value: str) -> str:
    client = _client(moto_url)
    created = client.create_secret(Name=f"fw-{uuid.uuid4().hex[:8]}", SecretString=value)  # type: ignore[attr-defined]
    return str(created["ARN"])


def test_the_seed_becomes_the_same_signing_key_in_every_function(moto_url: str) -> None:
    seed = "Zx" * 32  # what Secrets Manager generates: 64 letters and digits
    arn = _secret(moto_url, json.dumps({"FLEETWATCH_AUDIT_SIGNING_SEED": seed}))
    first: dict[str, str] = {SECRETS: arn}
    second: dict[str, str] = {SECRETS: arn}
    assert load_secrets(first, _client(moto_url)) == [KEY]
    assert load_secrets(second, _client(moto_url)) == [KEY]
    assert first[KEY] == second[KEY] == signing_key_from_seed(seed)
    key = signing_key(Settings(audit_signing_key=first[KEY]))
    development = signing_key(Settings())
    assert key.key_id != development.key_id  # not the development key any more


def test_the_environment_wins_and_other_settings_come_through(moto_url: str) -> None:
    value = {"FLEETWATCH_AUDIT_SIGNING_SEED": "s" * 64, "FLEETWATCH_SES_FROM": "ops@example.com"}
    arn = _secret(moto_url, json.dumps(value))
    env = {SECRETS: arn, KEY: "set-by-the-operator"}
    assert load_secrets(env, _client(moto_url)) == ["FLEETWATCH_SES_FROM"]
    assert env[KEY] == "set-by-the-operator"
    assert env["FLEETWATCH_SES_FROM"] == "ops@example.com"


def test_no_secret_named_reads_nothing() -> None:
    env: dict[str, str] = {}
    assert load_secrets(env, client=object()) == []
    assert env == {}


@pytest.mark.parametrize(
    ("value", "why"),
    [("not json", "not JSON"), ('["a"]', "not an object"), ('{"PATH": "/x"}', "not an object")],
)
def test_a_bad_secret_is_named(moto_url: str, value: str, why: str) -> None:
    arn = _secret(moto_url, value)
    with pytest.raises(SecretsError, match=why):
        load_secrets({SECRETS: arn}, _client(moto_url))


def test_a_secret_that_can_not_be_read_is_named(moto_url: str) -> None:
    with pytest.raises(SecretsError, match="could not be read"):
        load_secrets({SECRETS: "arn:aws:secretsmanager:us-east-1:1:secret:none"}, _client(moto_url))
