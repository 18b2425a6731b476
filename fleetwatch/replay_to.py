"""`fleetwatch replay --to POSITION|TIME` (docs/audit.md 19.6), on the embedded default: every
chosen read model rebuilt as of a past feed position, TWICE, and the two compared.

The live read models are not kept as of the past, so there is nothing live to compare with: the
replay is compared with a second replay of the same events (determinism). The second reads
the feed in pages of another size (`SECOND_PAGE`), so the commits cut the feed elsewhere: a
model whose rows depend on how events were batched (as the dashboard's float sums did) differs
there too, beside one that depends on anything but the events (a clock, an order of a set).

TIME is an ISO 8601 instant (UTC when it has no offset); it stands for the longest prefix of
the feed whose events were all recorded (the `recorded_at` of their metadata) at or before it:
the position before the first event recorded after it. Recording times follow the feed's
order but for concurrent writers, whose events may be recorded a little out of order; the
prefix never takes in an event recorded later than the instant.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from audit.replay import compare
from event_store.envelope import META_KEY
from fleetwatch.replay import ModelReplay, kept
from fleetwatch.replay_build import PAGE, Progress, copy_file, fan_out_split, scratch_workers
from fleetwatch.settings import Settings
from read_side.sqlite_snapshot import model_tables, snapshot
from write_side.application import FleetApplication

SECOND_PAGE = 997  # a prime: the second replay's commits fall elsewhere than the first's


class BadPosition(ValueError):
    """`--to` is neither a position of the feed nor an instant."""


def resolve_to(app: FleetApplication, value: str) -> int:
    """The feed position `value` stands for: a position (digits, at most the head), or an
    instant's (see the module's docstring)."""
    head = app.recorder.max_notification_id() or 0
    if value.strip().isdigit():
        position = int(value)
        if position > head:
            raise BadPosition(f"--to {position} is beyond the feed's head, {head}")
        return position
    try:
        instant = datetime.fromisoformat(value.strip())
    except ValueError:
        msg = f"--to {value!r} is neither a feed position nor an ISO 8601 instant"
        raise BadPosition(msg) from None
    return position_at(app, instant if instant.tzinfo else instant.replace(tzinfo=UTC), head)


def position_at(app: FleetApplication, instant: datetime, head: int) -> int:
    """The position before the first event recorded after `instant` (the head when none is)."""
    position = 0
    while position < head:
        page = app.recorder.select_notifications(
            start=position, limit=PAGE, stop=head, inclusive_of_start=False
        )
        if not page:
            break
        for notification in page:
            meta = (
                app.envelope_mapper.decode_state(notification, personal=False).get(META_KEY) or {}
            )
            recorded = meta.get("recorded_at")
            if recorded is not None and datetime.fromisoformat(recorded) > instant:
                return position
            position = notification.id
    return position


def replay_twice(
    app: FleetApplication,
    settings: Settings,
    names: Sequence[str],
    position: int,
    *,
    progress: Progress | None = None,
    keep: Path | None = None,
) -> list[ModelReplay]:
    """Build each of `names` up to `position` twice (pages of `PAGE`, then of `SECOND_PAGE`),
    in scratch beside the read models (removed at the end), each build's models split between
    processes (`fan_out_split`), and compare the two, model by model.
    `keep`: a new directory the first build's files are copied to, `{name}.sqlite3` each: the
    read models as of `position` (docs/audit.md 19.2)."""
    scratch = Path(tempfile.mkdtemp(prefix="replay-", dir=settings.read_models_path.parent))
    try:
        first, second = scratch / "first", scratch / "second"
        tracking: dict[str, str] = {}
        for folder, page in ((first, PAGE), (second, SECOND_PAGE)):
            folder.mkdir()
            with scratch_workers(app, folder, names) as workers:
                up_to = dict.fromkeys(names, position)
                fan_out_split(app, settings, folder, workers, up_to, progress=progress, page=page)
                tracking |= {name: worker.tracking_name for name, worker in workers.items()}
        results = []
        for name in names:
            tables = model_tables(first / f"{name}.sqlite3")
            with (
                snapshot(first / f"{name}.sqlite3", tables, tracking[name]) as one,
                snapshot(second / f"{name}.sqlite3", tables, tracking[name]) as two,
            ):
                comparison = compare(kept(name, one.rows), kept(name, two.rows))
            results.append(ModelReplay(name, position, comparison))
        if keep is not None:
            keep.mkdir(parents=True)
            for name in names:
                copy_file(first / f"{name}.sqlite3", keep / f"{name}.sqlite3")
        return results
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
