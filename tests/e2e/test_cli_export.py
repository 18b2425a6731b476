"""`fleetwatch export` (docs/analytics.md 20.5): the command and the exporter in process, a
progress bar on stderr, the file written to `--out` and read back with DuckDB; another tenant's
device is a one-line error (exit 2) and stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import build_system
from fleetwatch.cli import app
from fleetwatch.settings import Settings
from write_side.commands import RegisterDevice

runner = CliRunner()


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("FLEETWATCH_STORE", "sqlite")
    monkeypatch.setenv("FLEETWATCH_SQLITE_PATH", str(tmp_path / "cli.sqlite3"))
    monkeypatch.setenv("FLEETWATCH_BLOB_DIR", str(tmp_path / "blobs"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    return Settings()


def test_export_events_to_a_parquet_file_with_a_progress_bar(
    sqlite_env: Settings, tmp_path: Path
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    system = build_system(sqlite_env)
    for tenant in ("acme", "acme", "other"):
        saved = system.device_service.register(
            RegisterDevice(name="p", device_type="pump"), EventMetadata(tenant, "user:alice")
        )
    system.start()
    assert system.wait_for(saved.position, 10)  # the device-status model knows them
    stranger = str(saved.aggregate.id)
    system.close()
    out = tmp_path / "events.parquet"
    window = ["--from", start.isoformat(), "--to", (start + timedelta(hours=1)).isoformat()]
    result = runner.invoke(
        app,
        ["export", "--tenant", "acme", "--kind", "events", *window, "--format", "parquet",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "COMPLETED rows=3" in result.stdout
    assert "exporting" in result.stderr
    types = duckdb.execute("SELECT type FROM read_parquet(?) ORDER BY position", [str(out)])
    assert [t for (t,) in types.fetchall()] == ["Device.Registered"] * 2 + ["Export.Requested"]

    refused = runner.invoke(
        app, ["export", "--tenant", "acme", "--kind", "telemetry", *window, "--device", stranger]
    )
    assert refused.exit_code == 2
    assert "not found" in refused.stderr
    assert "Traceback" not in refused.output


def test_report_of_this_month_as_csv_and_bad_months(sqlite_env: Settings, tmp_path: Path) -> None:
    system = build_system(sqlite_env)
    for tag in ("north", "north", "south"):
        saved = system.device_service.register(
            RegisterDevice(name=f"{tag} pump", device_type="pump", tags=[tag]),
            EventMetadata("acme", "user:alice"),
        )
    system.start()
    assert system.wait_for(saved.position, 10)
    system.close()
    out = tmp_path / "report.csv"
    month = f"{datetime.now(UTC):%Y-%m}"
    result = runner.invoke(
        app, ["report", "--tenant", "acme", "--month", month, "--tag", "north", "--format", "csv",
              "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "COMPLETED" in result.stdout
    devices = duckdb.execute(
        "SELECT value FROM read_csv(?) WHERE section = 'summary' AND metric = 'devices'",
        [str(out)],
    ).fetchall()
    assert devices == [(2.0,)]
    for bad in ("2026-13", "next"):
        refused = runner.invoke(app, ["report", "--tenant", "acme", "--month", bad])
        assert refused.exit_code == 2, refused.output
        assert "month: not a month" in refused.stderr
        assert "Traceback" not in refused.output
    wrong = runner.invoke(app, ["report", "--tenant", "acme", "--month", month, "--tag", ""])
    assert wrong.exit_code == 2
    assert "tag" in wrong.stderr
