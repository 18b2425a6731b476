"""GraphQL output types of alert rules (docs/api.md section 13.5), built from the rule rows of
`read_side.alerts`: apart from the alerts' and the timeline's types, which link to them."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.alert_view import ConditionKind
from api.device_view import Severity
from api.graphql.derive import graphql_enum
from read_side.alerts import AlertRuleRow
from write_side.alert_rules import RuleDefinition


@strawberry.enum
class ComparisonOperator(Enum):
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="


@strawberry.enum
class RateUnit(Enum):
    SECOND = "second"
    MINUTE = "minute"


@strawberry.enum
class RateDirection(Enum):
    RISING = "rising"
    FALLING = "falling"
    ANY = "any"


graphql_enum(ConditionKind)  # declared with the alert as shown (`api.alert_view`)


@strawberry.type
class RuleScope:
    device_id: strawberry.ID | None
    tag: str | None
    device_type: str | None


@strawberry.type
class Comparison:
    op: ComparisonOperator
    value: float

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> Comparison | None:
        return None if data is None else cls(op=ComparisonOperator(data["op"]), value=data["value"])


@strawberry.type
class Condition:
    kind: ConditionKind
    metric: str | None
    op: ComparisonOperator | None
    value: float | None
    seconds: float | None
    rate: float | None
    per: RateUnit | None
    direction: RateDirection | None
    window_seconds: float | None

    @classmethod
    def of(cls, c: dict[str, Any]) -> Condition:
        return cls(
            kind=ConditionKind(c["kind"]), metric=c.get("metric"),
            op=ComparisonOperator(c["op"]) if "op" in c else None, value=c.get("value"),
            seconds=c.get("seconds"), rate=c.get("rate"),
            per=RateUnit(c["per"]) if "per" in c else None,
            direction=RateDirection(c["direction"]) if "direction" in c else None,
            window_seconds=c.get("window_seconds"),
        )  # fmt: skip


@strawberry.type
class AlertRuleRevision:
    revision: int
    definition: JSON
    revised_at: datetime
    revised_by: str


@strawberry.type
class AlertRule:
    id: strawberry.ID
    name: str
    scope: RuleScope
    severity: Severity
    condition: Condition
    clear_condition: Comparison | None
    hysteresis: float
    effective_clear: Comparison | None = strawberry.field(
        description="What clears the alert (given or derived); null for ABSENCE."
    )
    enabled: bool
    deleted: bool
    revision: int
    version: int = strawberry.field(description="The rule's version, for expectedVersion.")
    created_at: datetime
    updated_at: datetime
    revisions: list[AlertRuleRevision]

    @classmethod
    def from_row(cls, row: AlertRuleRow) -> AlertRule:
        d = row.definition
        effective = RuleDefinition.model_validate(d).clear_comparison
        scope = d["scope"]
        return cls(
            id=strawberry.ID(str(row.rule_id)), name=row.name,
            scope=RuleScope(
                device_id=strawberry.ID(scope["device_id"]) if scope.get("device_id") else None,
                tag=scope.get("tag"), device_type=scope.get("device_type"),
            ),
            severity=Severity(row.severity), condition=Condition.of(d["condition"]),
            clear_condition=Comparison.of(d.get("clear_condition")),
            hysteresis=float(d.get("hysteresis", 0)),
            effective_clear=Comparison.of(None if effective is None else effective.model_dump()),
            enabled=row.enabled, deleted=row.deleted, revision=row.revision, version=row.version,
            created_at=row.created_at, updated_at=row.updated_at,
            revisions=[
                AlertRuleRevision(
                    revision=r["revision"], definition=JSON(r["definition"]),
                    revised_at=datetime.fromisoformat(r["revised_at"]), revised_by=r["revised_by"],
                )
                for r in row.revisions
            ],
        )  # fmt: skip
