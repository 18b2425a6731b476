"""Settings that are secrets, from AWS Secrets Manager into the environment before the settings
are read (the Lambda functions, infra/: `FLEETWATCH_SECRETS` names the stage's secret).

The secret's value is a JSON object of settings (`"FLEETWATCH_..."`: string), set into the
process's environment unless the environment already has them (an operator's override wins).
One more key is understood: `FLEETWATCH_AUDIT_SIGNING_SEED`, any text of high entropy (what
Secrets Manager generates: CloudFormation can not make a base64 ed25519 seed), from which the
checkpoints' key is derived, `FLEETWATCH_AUDIT_SIGNING_KEY = base64(sha256(text))`: the same
in every function of the stage, stable until the secret changes (then list the old public key
as retired, docs/audit.md 19.4).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import MutableMapping
from typing import Any

SECRETS = "FLEETWATCH_SECRETS"
SEED = "FLEETWATCH_AUDIT_SIGNING_SEED"
KEY = "FLEETWATCH_AUDIT_SIGNING_KEY"


class SecretsError(RuntimeError):
    """The secret could not be read, or is not a JSON object of settings."""


def signing_key_from_seed(text: str) -> str:
    """The base64 ed25519 seed `FLEETWATCH_AUDIT_SIGNING_KEY` takes, derived from `text`."""
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def settings_from_secret(value: str) -> dict[str, str]:
    """The settings a secret's JSON value gives (the seed turned into the key)."""
    try:
        data = json.loads(value)
    except ValueError as e:
        raise SecretsError(f"{SECRETS}: the secret is not JSON: {e}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and k.startswith("FLEETWATCH_") and isinstance(v, str)
        for k, v in data.items()
    ):
        raise SecretsError(f"{SECRETS}: the secret is not an object of FLEETWATCH_* strings")
    found = {k: v for k, v in data.items() if k != SEED}
    if SEED in data and KEY not in data:
        found[KEY] = signing_key_from_seed(data[SEED])
    return found


def load_secrets(
    environ: MutableMapping[str, str] | None = None, client: Any | None = None
) -> list[str]:
    """Put the settings of the secret `FLEETWATCH_SECRETS` names into `environ` (default: the
    process's), where not set already; the names set. Nothing when it names none."""
    env = os.environ if environ is None else environ
    secret_id = env.get(SECRETS)
    if not secret_id:
        return []
    if client is None:
        import boto3

        client = boto3.client("secretsmanager")
    try:
        value = client.get_secret_value(SecretId=secret_id)["SecretString"]
    except Exception as e:  # no access, no such secret, no network: the function can not start
        raise SecretsError(f"{SECRETS}: {secret_id} could not be read: {e}") from e
    added = []
    for name, setting in settings_from_secret(value).items():
        if name not in env:
            env[name] = setting
            added.append(name)
    return sorted(added)
