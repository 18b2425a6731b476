"""One active worker per consumer across processes (issue 14), on SQLite and DynamoDB Local:
two `fleetwatch projections run` processes are told to run every worker and split them (8 and
7). The one running the telemetry group is killed with SIGKILL: within 10 s (lease time to live
6 s plus a turn of 1.5 s, the defaults) the other holds them all, the moved ones with higher
fencing tokens, and what is written afterwards reaches the read models."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

from event_store.envelope import EventMetadata
from event_store.leases import Lease
from fleetwatch.bootstrap import System, build_system
from fleetwatch.lease_keeper import lease_of
from fleetwatch.settings import Settings
from tests.e2e.conftest import new_tenant
from tests.e2e.fleet_process import FleetProcess
from write_side.commands import RegisterDevice

TAKEOVER_S = 10.0  # the bound


def test_a_killed_holders_workers_are_taken_over_within_10_s(
    store_settings: Settings, tmp_path: Path
) -> None:
    settings = store_settings.model_copy(
        update={"blob_dir": tmp_path / "blobs", "run_projections": False, "redis_url": None}
    )
    system = build_system(settings)  # writes and reads; runs no worker
    tenant = new_tenant()
    processes = [FleetProcess(settings, tmp_path / f"p{i}.log") for i in range(2)]
    try:
        for process in processes:
            process.start()
        until(lambda: all("running:" in p.tail() for p in processes), 60, lambda: logs(processes))
        # The first to start takes every lease; the other takes one a turn from it until
        # they hold 8 and 7 (its share of 15, rounded up, and no more moves).
        until(lambda: sorted(Counter(holders(system).values()).values()) == [7, 8], 60,
              lambda: f"{holders(system)}\n{logs(processes)}")  # fmt: skip
        owners = holders(system)
        assert len(owners) == len(system.workers)
        victim_owner = owners["device_status"]  # the process running the telemetry group
        victim = next(p for p in processes if f":{pid(p)}:" in victim_owner)
        standby = next(p for p in processes if p is not victim)
        tokens = {name: lease.token for name, lease in leases(system).items()}
        registered = register(system, tenant, "before")
        until(lambda: system.devices.get(tenant, registered) is not None, 30, standby.tail)

        victim.kill()
        killed_at = time.monotonic()

        def taken_over() -> bool:
            held = holders(system)
            return len(held) == len(system.workers) and victim_owner not in held.values()

        until(taken_over, 30, standby.tail)
        took = time.monotonic() - killed_at
        assert took < TAKEOVER_S, f"taken over in {took:.1f} s"
        for name, lease in leases(system).items():
            assert f":{pid(standby)}:" in lease.owner
            if owners[name] == victim_owner:
                assert lease.token > tokens[name], name  # a new holder, a higher token
        device = register(system, tenant, "after")
        until(lambda: system.devices.get(tenant, device) is not None, 30, standby.tail)
        print(f"taken over {took:.1f} s after the kill")
    finally:
        for process in processes:
            process.stop()
        system.close()


def leases(system: System) -> dict[str, Lease]:
    found = {name: lease_of(worker) for name, worker in system.workers.items()}
    return {name: lease for name, lease in found.items() if lease is not None}


def holders(system: System) -> dict[str, str]:
    """Each worker's holder, among the leases that have not expired."""
    now = time.time()
    return {
        name: lease.owner
        for name, worker in system.workers.items()
        if (lease := lease_of(worker)) is not None and lease.expires_at > now
    }


def pid(process: FleetProcess) -> int:
    assert process.process is not None
    return process.process.pid


def register(system: System, tenant: str, name: str) -> UUID:
    command = RegisterDevice(name=name, device_type="pump")
    return system.device_service.register(command, EventMetadata(tenant, "user:admin")).aggregate.id


def logs(processes: list[FleetProcess]) -> str:
    return "\n".join(p.tail() for p in processes)


def until(condition: Callable[[], object], timeout: float, why: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, why()
        time.sleep(0.1)
