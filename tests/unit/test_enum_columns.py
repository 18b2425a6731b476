"""A row field typed with a `StrEnum` (the OTA states) is stored as its text on every codec and
read back as the member, also inside a nested row or a mapping."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from read_side.columns import FROM_PLAIN, TO_PLAIN
from read_side.dynamodb_items import DynamoDBItemCodec
from read_side.sqlite_rows import SQLiteRowCodec
from write_side.deployment_states import DeploymentStatus, ExecutionState


@dataclass(frozen=True)
class Step:
    state: ExecutionState
    previous: ExecutionState | None = None


@dataclass(frozen=True)
class Row:
    key: str
    status: DeploymentStatus
    last: ExecutionState | None
    steps: tuple[Step, ...] = ()
    per_state: Mapping[str, ExecutionState] = field(default_factory=dict)


ROW = Row(
    "k",
    DeploymentStatus.PAUSED,
    None,
    (Step(ExecutionState.QUEUED), Step(ExecutionState.NOTIFIED, ExecutionState.QUEUED)),
    {"a": ExecutionState.FAILED},
)


def test_sqlite_stores_the_text_and_reads_the_member() -> None:
    codec = SQLiteRowCodec(Row)
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    db.execute(codec.create_table("t", ("key",)))
    db.execute(codec.upsert("t"), codec.to_row(ROW))
    stored = db.execute("SELECT status FROM t WHERE status = 'PAUSED'").fetchone()
    assert stored is not None
    assert type(stored["status"]) is str
    back = codec.from_row(db.execute("SELECT * FROM t").fetchone())
    assert back == ROW
    assert type(back.status) is DeploymentStatus
    assert type(back.steps[1].previous) is ExecutionState


@pytest.mark.parametrize("json_containers", [True, False])
def test_dynamodb_stores_the_text_and_reads_the_member(json_containers: bool) -> None:
    codec = DynamoDBItemCodec(Row, json_containers=json_containers)
    item = codec.to_item(ROW)
    assert item["status"] == {"S": "PAUSED"}
    back = codec.from_item(item)
    assert back == ROW
    assert type(back.status) is DeploymentStatus
    assert type(back.per_state["a"]) is ExecutionState


def test_plain_json_form_is_the_text() -> None:
    plain = TO_PLAIN.converter(Row)(ROW)
    assert plain["status"] == "PAUSED"
    assert type(plain["status"]) is str
    assert FROM_PLAIN.converter(Row)(plain) == ROW


def test_an_unknown_stored_value_is_refused() -> None:
    codec = DynamoDBItemCodec(Row, json_containers=True)
    item = codec.to_item(ROW) | {"status": {"S": "SLEEPING"}}
    with pytest.raises(ValueError, match="SLEEPING"):
        codec.from_item(item)
