"""A `fleetwatch projections run` process on a test's store, which the test starts, kills with
SIGKILL and starts again (the OTA orchestrator, ingestion, the read models' consumers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from fleetwatch.settings import Settings
from tests.e2e.conftest import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]


class FleetProcess:
    """`fleetwatch projections run` on `settings`' store with the extra `env` (which workers:
    `FLEETWATCH_PROJECTIONS`; MQTT ingestion: `FLEETWATCH_MQTT_URL`); its output goes to `log`."""

    def __init__(self, settings: Settings, log: Path, **env: str) -> None:
        base = {k: v for k, v in os.environ.items() if "REDIS_URL" not in k and "MQTT" not in k}
        base |= {
            "FLEETWATCH_STORE": settings.store,
            "FLEETWATCH_SQLITE_PATH": str(settings.sqlite_path),
            "FLEETWATCH_DYNAMODB_TABLE_PREFIX": settings.dynamodb_table_prefix,
            "FLEETWATCH_BLOB_DIR": str(settings.blob_dir),
            "FLEETWATCH_JWT_SECRET": TEST_SECRET,
        }
        if settings.dynamodb_endpoint_url:
            base["FLEETWATCH_DYNAMODB_ENDPOINT_URL"] = settings.dynamodb_endpoint_url
        if settings.analytics_dir is not None:
            base["FLEETWATCH_ANALYTICS_DIR"] = str(settings.analytics_dir)
        self.env, self.log = base | env, log
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        command = [sys.executable, "-c", "from fleetwatch.cli import app; app()"]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [*command, "projections", "run"], env=self.env, cwd=ROOT, stdout=out, stderr=out
            )

    def kill(self) -> None:
        assert self.process is not None
        assert self.process.poll() is None, self.tail()
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(10) == -signal.SIGKILL
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
