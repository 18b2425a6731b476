"""`fleetwatch replay --to POSITION|TIME` (docs/audit.md 19.6), on SQLite and DynamoDB Local:
the read models as of a past position, replayed twice and compared; to the head they are the
live models' checksums, before the alert the alerts model is another; no scratch file or
table is left."""

from __future__ import annotations

from typer.testing import CliRunner

from fleetwatch.bootstrap import build_system
from fleetwatch.cli import app
from fleetwatch.settings import Settings
from fleetwatch.wiring import READ_MODELS
from ingestion.settings import IngestSettings
from tests.integration.test_replay import as_of, kept_in, scratch_left, workload
from tests.integration.test_replay import settings as settings  # noqa: PLC0414 - each store

runner = CliRunner()


def digests(output: str) -> dict[str, tuple[str, str]]:
    lines = [line.split() for line in output.strip().splitlines()]
    assert [line[:2] for line in lines] == [["OK", m.name] for m in READ_MODELS], output
    return {name: (digest, at) for _, name, digest, at in lines}


def test_replay_to_a_position_or_an_instant_compares_two_replays(settings: Settings) -> None:
    system = build_system(settings, IngestSettings(ingest_flush_ms=5))
    system.start()
    try:
        p1 = workload(system)
    finally:
        system.close()
    system = build_system(settings)
    try:
        feed = system.event_log.read_feed(limit=1000)
    finally:
        system.close()
    head = feed[-1].position
    raised = next(e.position for e in feed if e.type == "Alert.Raised")
    assert head is not None
    assert raised is not None

    live = runner.invoke(app, ["replay"])
    assert live.exit_code == 0, live.output
    at_head = runner.invoke(app, ["replay", "--to", str(head)])
    assert at_head.exit_code == 0, at_head.output
    assert {n: d for n, (d, _) in digests(at_head.stdout).items()} == {
        n: d for n, (d, _) in digests(live.stdout).items()
    }
    assert {at for _, at in digests(at_head.stdout).values()} == {f"@{head}"}

    before = runner.invoke(app, ["replay", "--to", str(raised - 1)])
    assert before.exit_code == 0, before.output
    earlier = digests(before.stdout)
    assert {at for _, at in earlier.values()} == {f"@{raised - 1}"}
    assert earlier["alerts"][0] != digests(live.stdout)["alerts"][0]
    assert earlier["users"] == (digests(live.stdout)["users"][0], f"@{raised - 1}")

    # An instant: the last event recorded at or before it (the next one was recorded later).
    by_position = {e.position: e for e in feed}
    position = next(
        p
        for p in range(raised - 1, 0, -1)
        if by_position[p + 1].recorded_at > by_position[p].recorded_at
    )
    instant = by_position[position].recorded_at.isoformat()
    timed = runner.invoke(app, ["replay", "--to", instant, "--models", "alerts,users"])
    assert timed.exit_code == 0, timed.output
    assert [line.split()[3] for line in timed.stdout.strip().splitlines()] == [f"@{position}"] * 2

    beyond = runner.invoke(app, ["replay", "--to", str(head + 1)])
    assert beyond.exit_code == 2
    assert "beyond the feed's head" in beyond.output
    assert scratch_left(settings) == []

    # Kept: the read models as of the position, readable by their own readers.
    renamed = next(e.position for e in feed if e.type == "Device.Updated")
    kept = runner.invoke(
        app, ["replay", "--to", str(renamed - 1), "--models", "device_status", "--keep"]
    )
    assert kept.exit_code == 0, kept.output
    where = kept_in(kept.stderr, "as of @")
    assert as_of(settings, where).get("acme", p1).name == "p1"  # the name it had then
    assert scratch_left(settings) == []  # the second replay is gone, the kept one is not scratch
