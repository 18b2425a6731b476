"""`fleetwatch replay --quiesce` (docs/audit.md 19.6): the replay takes a live model's worker
lease while it reads the model, so the process running the worker commits nothing to it
meanwhile, then gives the lease back and that process takes it again and catches up; on both
stores, under a steady stream of device renames through the live process. On DynamoDB Local
the quiesced replay of the device-status model under that load says OK."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System, build_system
from fleetwatch.lease_keeper import lease_of
from fleetwatch.replay_dynamodb import replay_models
from fleetwatch.replay_quiesce import quiesced
from fleetwatch.settings import Settings
from write_side.commands import RegisterDevice, UpdateDevice

META = EventMetadata("acme", "user:auditor-test")
TTL, INTERVAL = 3.0, 0.5


@pytest.fixture
def live(store_settings: Settings, tmp_path: Path) -> Iterator[tuple[System, System]]:
    """A running system (its workers under leases) and a tool's system on the same store."""
    settings = store_settings.model_copy(
        update={
            "blob_dir": tmp_path / "blobs", "redis_url": None,
            "lease_ttl": TTL, "lease_interval": INTERVAL,
        }
    )  # fmt: skip
    running = build_system(settings)
    running.start()
    tool = build_system(settings.model_copy(update={"run_projections": False}))
    yield running, tool
    tool.close()
    running.close()


class Renames:
    """Renames one device every 20 ms through the running system, until stopped."""

    def __init__(self, system: System) -> None:
        self.system = system
        register = RegisterDevice(name="d0", device_type="pump")
        self.device = system.device_service.register(register, META).aggregate.id
        self.count = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.wait(0.02):
            self.count += 1
            change = UpdateDevice(device_id=self.device, name=f"d{self.count}")
            self.system.device_service.update(change, META)

    def end(self) -> None:
        self.stop.set()
        self.thread.join(10)


def test_a_quiesced_model_stands_still_then_is_taken_back(live: tuple[System, System]) -> None:
    running, tool = live
    worker = tool.workers["device_status"]  # where its lease is, as the tool sees it
    renames = Renames(running)
    try:
        deadline = time.monotonic() + 20
        while (lease := lease_of(worker)) is None or worker.checkpoint() < 3:
            assert time.monotonic() < deadline, "the running system did not take its lease"
            time.sleep(0.1)
        with quiesced([worker], "replay:test", ttl=TTL, interval=INTERVAL):
            held = lease_of(worker)
            assert held is not None
            assert (held.owner, held.token > lease.token) == ("replay:test", True)
            still = worker.checkpoint()
            renamed = renames.count
            time.sleep(2 * INTERVAL + 1.0)  # renewed meanwhile, renames going on
            assert renames.count > renamed + 3  # (10 once: a loaded CI machine made 9)
            assert worker.checkpoint() == still  # nothing committed to the model
        renames.end()
        head = running.event_log.head()
        assert running.workers["device_status"].wait_for(head, timeout=20)  # taken back
        back = lease_of(worker)
        assert back is not None
        assert back.owner != "replay:test"
        row = running.devices.get("acme", renames.device)
        assert row is not None
        assert row.name == f"d{renames.count}"
    finally:
        renames.end()


@pytest.mark.dynamodb
@pytest.mark.parametrize("store_settings", ["dynamodb"], indirect=True)
def test_a_quiesced_replay_under_load_says_ok(live: tuple[System, System]) -> None:
    running, tool = live
    renames = Renames(running)
    try:
        deadline = time.monotonic() + 20
        while tool.workers["device_status"].checkpoint() < 3:
            assert time.monotonic() < deadline
            time.sleep(0.1)

        def pause(name: str) -> contextlib.AbstractContextManager[None]:
            return quiesced([tool.workers[name]], "replay:test", ttl=TTL, interval=INTERVAL)

        [result] = replay_models(tool.app, tool.views, ["device_status"], None, pause)
    finally:
        renames.end()
    assert result.comparison.equal, result.comparison
    assert result.position > 3
