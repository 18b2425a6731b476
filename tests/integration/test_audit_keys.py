"""The checkpoints' keys (docs/audit.md section 19.4) end to end on SQLite through the CLI: a
tenant given its own key has its checkpoints signed by it while the others keep the system's;
its export verifies offline pinned to its key id and not to another; a rotated key's
checkpoints fail `audit verify` (naming the key) until the old key is listed as retired, and
verify again once it is; a bad key (or any bad setting) is one line and exit code 2, before
the command starts anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import build_system
from fleetwatch.cli import app as cli
from fleetwatch.settings import Settings
from write_side.commands import RegisterDevice

VERIFIER = Path(__file__).resolve().parents[2] / "scripts" / "verify_audit_export.py"
runner = CliRunner()


def _cli(*args: str, code: int = 0) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == code, result.output
    return result.output


def _register(count: int) -> None:
    system = build_system(Settings())
    for tenant in ("acme", "other"):
        for i in range(count):
            command = RegisterDevice(name=f"d{i}", device_type="p")
            system.device_service.register(command, EventMetadata(tenant, "user:alice"))
    system.close()


def _new_key() -> dict[str, str]:
    """A generated key: its seed, key id and public key."""
    lines = _cli("audit", "keys", "--generate").splitlines()
    return {
        "seed": lines[0].removeprefix("seed "),
        "id": lines[1].removeprefix("key id "),
        "public": lines[2].removeprefix("public key "),
    }


def _signers(output: str) -> dict[str, str]:
    """The key id of each tenant's checkpoint `audit checkpoint` printed."""
    return {line.split("'")[1]: line.rsplit(" ", 1)[1] for line in output.splitlines()}


def _verifier(path: Path, *key_ids: str) -> subprocess.CompletedProcess[str]:
    pinned = [arg for key_id in key_ids for arg in ("--key-id", key_id)]
    command = [sys.executable, str(VERIFIER), str(path), *pinned]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_tenant_keys_sign_verify_rotate_and_retire(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEETWATCH_STORE", "sqlite")
    monkeypatch.setenv("FLEETWATCH_SQLITE_PATH", str(tmp_path / "fleet.sqlite3"))
    system_id = _cli("audit", "keys").split()[2]
    _register(2)
    assert _signers(_cli("audit", "checkpoint")) == {"acme": system_id, "other": system_id}

    first = _new_key()
    monkeypatch.setenv("FLEETWATCH_AUDIT_TENANT_SIGNING_KEYS", f'{{"acme": "{first["seed"]}"}}')
    assert _cli("audit", "keys").splitlines() == [
        f"system signs {system_id} {_cli('audit', 'keys').split()[3]}",
        f"tenant 'acme' signs {first['id']} {first['public']}",
    ]
    _register(1)
    assert _signers(_cli("audit", "checkpoint")) == {"acme": first["id"], "other": system_id}
    # acme's checkpoints signed by the system's key before it had its own still verify.
    assert _cli("audit", "verify").splitlines()[-1] == "6 ledgered events checked, 0 findings"

    export = tmp_path / "acme.jsonl"
    _cli("audit", "export", "acme", "--out", str(export))
    assert _verifier(export, first["id"]).returncode == 0
    pinned_elsewhere = _verifier(export, system_id)
    assert pinned_elsewhere.returncode == 1
    assert f"signed by key {first['id']}, not the published {system_id}" in pinned_elsewhere.stdout

    # Rotation: a new key for acme, the old one not listed as retired yet.
    second = _new_key()
    monkeypatch.setenv("FLEETWATCH_AUDIT_TENANT_SIGNING_KEYS", f'{{"acme": "{second["seed"]}"}}')
    found = _cli("audit", "verify", code=1)
    assert (
        f"ledger: position 5, stream tenant 'acme': checkpoint of size 3: signed by key "
        f"{first['id']}, which is neither the tenant's nor the system's (current or retired)"
    ) in found
    refused = _cli("audit", "export", "acme", "--out", str(export), code=2)
    assert f"signed by key {first['id']}, which is not trusted" in " ".join(refused.split())
    monkeypatch.setenv("FLEETWATCH_AUDIT_RETIRED_KEYS", f'{{"acme": ["{first["public"]}"]}}')
    assert _cli("audit", "verify").splitlines()[-1] == "6 ledgered events checked, 0 findings"
    assert f"tenant 'acme' retired {first['id']} {first['public']}" in _cli("audit", "keys")
    _cli("audit", "export", "acme", "--out", str(export))
    assert _verifier(export, first["id"]).returncode == 0  # the last checkpoint is still its

    # Retired for another tenant only, the old key is not trusted for acme.
    monkeypatch.setenv("FLEETWATCH_AUDIT_RETIRED_KEYS", f'{{"other": ["{first["public"]}"]}}')
    _cli("audit", "verify", code=1)
    _register(1)
    assert _signers(_cli("audit", "checkpoint"))["acme"] == second["id"]
    _cli("audit", "export", "acme", "--out", str(export))
    assert _verifier(export, second["id"]).returncode == 0
    # An auditor pinning the tenant's keys across the rotation accepts the export either way.
    assert _verifier(export, first["id"], second["id"]).returncode == 0
    refused = _verifier(export, first["id"], system_id)
    assert f"not the published {first['id']} or {system_id}" in refused.stdout


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("FLEETWATCH_AUDIT_SIGNING_KEY", "short", "FLEETWATCH_AUDIT_SIGNING_KEY: not base64"),
        ("FLEETWATCH_AUDIT_TENANT_SIGNING_KEYS", '{"acme": "AAAA"}', "tenant 'acme': an ed25519"),
        ("FLEETWATCH_AUDIT_TENANT_SIGNING_KEYS", '{"acme": ', "audit_tenant_signing_keys"),
        ("FLEETWATCH_AUDIT_RETIRED_KEYS", '{"*": ["AAAA"]}', "a retired key of the system"),
        ("FLEETWATCH_STORE", "foo", "FLEETWATCH_STORE: Input should be 'sqlite' or 'dynamodb'"),
    ],
)
def test_a_bad_setting_is_named_and_nothing_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, said: str
) -> None:
    monkeypatch.setenv("FLEETWATCH_SQLITE_PATH", str(tmp_path / "fleet.sqlite3"))
    monkeypatch.setenv(name, value)
    result = runner.invoke(cli, ["audit", "checkpoint"])
    assert result.exit_code == 2
    assert said in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "fleet.sqlite3").exists()
