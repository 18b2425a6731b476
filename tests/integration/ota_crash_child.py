"""A child process for the OTA crash tests (tests/integration/test_ota_crash.py): runs one turn
of the job dispatcher or the timer loop on the store the FLEETWATCH_* environment names, and
kills itself with SIGKILL at the worst moment: after the broker acknowledged a job document
(before it is marked sent), or inside `fire` (before the rows are done).

    python -m tests.integration.ota_crash_child dispatch <mqtt url> <topic root>
    python -m tests.integration.ota_crash_child timers <file to append fired keys to>
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from uuid import UUID

from fleetwatch.settings import Settings
from fleetwatch.wiring import application_env
from ota.mqtt_jobs import MqttDeviceJobs
from ota.schedule import JobNotice, Timer
from ota.schedule_loops import JobDispatcher, TimerLoop
from ota.schedule_wiring import build_schedule_store
from write_side.application import FleetApplication


def render(notice: JobNotice) -> Mapping[str, object]:
    """The tests' job document: what devices deduplicate by."""
    return {
        "executionId": str(notice.execution_id),
        "attempt": notice.attempt,
        "operation": notice.operation,
    }


class DyingJobs(MqttDeviceJobs):
    def publish(self, tenant_id: str, device_id: UUID, document: Mapping[str, object]) -> None:
        super().publish(tenant_id, device_id, document)  # returns once the broker has it
        os.kill(os.getpid(), signal.SIGKILL)


def main(mode: str, *args: str) -> None:
    app = FleetApplication(env=application_env(Settings()))
    store = build_schedule_store(app)
    if mode == "dispatch":
        url, root = args
        jobs = DyingJobs(url, client_id=f"crash-{os.getpid()}", topic_root=root)
        JobDispatcher(store, jobs, render).run_once()
    else:
        log = Path(args[0])

        def fire(timers: Sequence[Timer], now: datetime) -> None:
            with log.open("a") as out:
                out.writelines(f"{t.key}\n" for t in timers)
            os.kill(os.getpid(), signal.SIGKILL)

        TimerLoop(store, fire).run_once()
    sys.exit("not killed")  # the turn should have ended in SIGKILL


if __name__ == "__main__":
    main(*sys.argv[1:])
