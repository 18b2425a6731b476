"""The scratch build of a replay split between processes (`fleetwatch.replay_build`,
docs/audit.md 19.6) on the embedded default: the models built by forked processes hold the
same rows and checkpoints as the same models built in one process, every model's progress
reaches its end, and a process that fails is named, not taken for a finished model."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.replay import compare
from fleetwatch import replay_build
from fleetwatch.bootstrap import build_system
from fleetwatch.replay_build import rebuild, split
from fleetwatch.settings import Settings
from fleetwatch.wiring import READ_MODELS
from ingestion.settings import IngestSettings
from read_side.sqlite_snapshot import model_tables, snapshot
from tests.integration.test_replay import workload

NAMES = [m.name for m in READ_MODELS]
NO_ROWS = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # the checksum


@pytest.fixture
def fed(tmp_path: Path) -> tuple[Settings, int]:
    """A store holding `test_replay.workload`'s feed; its head."""
    settings = Settings(store="sqlite", sqlite_path=tmp_path / "fleet.sqlite3")
    system = build_system(settings, IngestSettings(ingest_flush_ms=5))
    system.start()
    try:
        workload(system)
        return settings, system.event_log.head()
    finally:
        system.close()


def test_models_built_in_three_processes_match_those_built_in_one(
    fed: tuple[Settings, int], tmp_path: Path
) -> None:
    settings, head = fed
    assert len(split(NAMES, 3)) == 3
    built: dict[int, dict[str, int]] = {}
    seen: dict[str, int] = {}
    system = build_system(settings)
    try:
        for processes in (1, 3):
            (tmp_path / str(processes)).mkdir()
            report = None
            if processes == 3:

                def report(name: str, position: int, up_to: int) -> None:
                    assert up_to == head
                    seen[name] = max(seen.get(name, 0), position)

            built[processes] = rebuild(
                system.app, settings, tmp_path / str(processes), NAMES, head,
                progress=report, processes=processes,
            )  # fmt: skip
    finally:
        system.close()
    assert built[3] == built[1]
    assert built[1]["device_status"] == head
    assert seen == dict.fromkeys(NAMES, head)  # the other processes' progress reached here
    for name in NAMES:
        one, three = tmp_path / "1" / f"{name}.sqlite3", tmp_path / "3" / f"{name}.sqlite3"
        tables = model_tables(one)
        with snapshot(one, tables, "") as a, snapshot(three, tables, "") as b:
            comparison = compare(a.rows, b.rows)
        assert comparison.equal, (name, comparison.first_key)
        assert (comparison.left == NO_ROWS) == (name in {"firmware", "exports"}), name


def test_a_process_that_fails_is_named(
    fed: tuple[Settings, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, head = fed

    def broken(**_: object) -> None:
        raise OSError("the store cannot be opened")

    # Forked processes inherit the patch: each builds its own application, and fails to.
    monkeypatch.setattr(replay_build, "FleetApplication", broken)
    system = build_system(settings)
    try:
        with pytest.raises(RuntimeError, match=r"the replay failed in its process: replay \w+"):
            rebuild(system.app, settings, tmp_path, NAMES, head, processes=2)
    finally:
        system.close()
