"""The auditor's export (docs/audit.md section 19.5), end to end on SQLite: `fleetwatch audit
checkpoint` and `audit export`, then the standalone verifier run as a subprocess: it accepts
the export, refuses it once a byte of it is changed, and refuses the export of a store whose
event was changed after it was ledgered. A tenant's export holds its own events only."""

from __future__ import annotations

import ast
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import build_system
from fleetwatch.cli import app as cli
from fleetwatch.settings import Settings
from write_side.commands import RegisterDevice, UpdateDevice

VERIFIER = Path(__file__).resolve().parents[2] / "scripts" / "verify_audit_export.py"
runner = CliRunner()


def _verifier(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(VERIFIER), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _export(tenant: str, out: Path) -> list[dict[str, object]]:
    result = runner.invoke(cli, ["audit", "export", tenant, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_an_export_verifies_offline_and_a_changed_one_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "fleet.sqlite3"
    monkeypatch.setenv("FLEETWATCH_STORE", "sqlite")
    monkeypatch.setenv("FLEETWATCH_SQLITE_PATH", str(path))
    system = build_system(Settings())
    for tenant, count in (("acme", 3), ("other", 1)):
        meta = EventMetadata(tenant, "user:alice")
        for i in range(count):
            saved = system.device_service.register(
                RegisterDevice(name=f"d{i}", device_type="p"), meta
            )
            rename = UpdateDevice(device_id=saved.aggregate.id, name=f"e{i}")
            system.device_service.update(rename, meta)
    system.close()
    result = runner.invoke(cli, ["audit", "export", "acme", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2  # nothing ledgered nor signed yet
    assert "no signed checkpoint" in result.output

    result = runner.invoke(cli, ["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    assert "tenant 'acme': size 6" in result.output

    result = runner.invoke(cli, ["audit", "prove", "acme", "--position", "3"])
    assert result.exit_code == 0, result.output
    proof = json.loads(result.stdout)
    assert (proof["log_index"], proof["tree_size"], proof["verified"]) == (2, 6, True)
    result = runner.invoke(cli, ["audit", "prove", "acme", "--position", "7"])
    assert result.exit_code == 2  # tenant other's event
    assert "not in tenant 'acme'" in result.output
    result = runner.invoke(cli, ["audit", "prove", "acme", "--from", "6"])
    assert (result.exit_code, "give both --from and --to" in result.output) == (2, True)

    lines = _export("acme", tmp_path / "acme.jsonl")
    assert len(lines) == 7
    checked = _verifier(tmp_path / "acme.jsonl")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("OK tenant 'acme': 6 events")
    other = _export("other", tmp_path / "other.jsonl")
    assert [line["envelope"]["tenant_id"] for line in other[1:]] == ["other", "other"]
    assert _verifier(tmp_path / "other.jsonl").returncode == 0

    text = (tmp_path / "acme.jsonl").read_text()
    changed = tmp_path / "changed.jsonl"
    changed.write_text(text.replace('"actor": "user:alice"', '"actor": "user:mallory"', 1))
    refused = _verifier(changed)
    assert refused.returncode == 1
    assert "FAILED log index 0" in refused.stdout
    assert "inclusion proof fails" in refused.stdout

    db = sqlite3.connect(path, isolation_level=None)
    (state,) = db.execute("SELECT state FROM stored_events WHERE rowid = 4").fetchone()
    db.execute(
        "UPDATE stored_events SET state = ? WHERE rowid = 4", (state.replace(b'"e1"', b'"x1"'),)
    )
    db.close()
    _export("acme", tmp_path / "after.jsonl")
    refused = _verifier(tmp_path / "after.jsonl")
    assert refused.returncode == 1
    assert "FAILED log index 3 (position 4" in refused.stdout


def test_the_verifier_imports_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(VERIFIER.read_text())
    modules = {
        name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name in (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        )
    }
    assert modules - sys.stdlib_module_names == {"cryptography"}
