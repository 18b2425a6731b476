"""Alert rules: what to watch (scope), when to raise (condition) and when to clear (hysteresis).

A `RuleDefinition` is a frozen pydantic model; the `AlertRule` aggregate stores it in its events
as plain JSON values and numbers its revisions, so an alert keeps the revision it was raised under.
Cross-field rules (`check_definition`) run in the public methods only, never on replay.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from write_side import severity
from write_side.errors import AlertRuleDeleted, InvalidInput
from write_side.event_names import event_name
from write_side.telemetry import METRIC_NAME

Op = Literal[">", ">=", "<", "<=", "==", "!="]
Severity = severity.Severity  # declared in write_side/severity.py; kept here for its users
SEVERITY_RANK = severity.SEVERITY_RANK
Metric = Annotated[str, StringConstraints(pattern=METRIC_NAME.pattern)]
Number = Annotated[float, Field(allow_inf_nan=False)]
Seconds = Annotated[float, Field(gt=0, le=30 * 86_400)]
_OPS: Mapping[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt,
    "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}  # fmt: skip
_DEFAULT_CLEAR: Mapping[str, tuple[Op, int]] = {
    ">": ("<=", -1), ">=": ("<", -1), "<": (">=", 1),
    "<=": (">", 1), "==": ("!=", 0), "!=": ("==", 0),
}  # fmt: skip


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Comparison(_Model):
    op: Op
    value: Number

    def holds(self, x: float) -> bool:
        return _OPS[self.op](x, self.value)


class Threshold(_Model):
    kind: Literal["threshold"] = "threshold"
    metric: Metric
    op: Op
    value: Number


class ForDuration(_Model):
    kind: Literal["for_duration"] = "for_duration"
    metric: Metric
    op: Op
    value: Number
    seconds: Seconds


class Absence(_Model):
    kind: Literal["absence"] = "absence"
    metric: Metric | None = None  # None: no reading of any metric
    seconds: Seconds


class RateOfChange(_Model):
    """Raises when the change per `per` exceeds `rate` (the alert's value is that rate)."""

    kind: Literal["rate_of_change"] = "rate_of_change"
    metric: Metric
    rate: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    per: Literal["second", "minute"] = "second"
    direction: Literal["rising", "falling", "any"] = "any"
    window_seconds: Seconds | None = None  # None: between consecutive readings


Condition = Annotated[Threshold | ForDuration | Absence | RateOfChange, Field(discriminator="kind")]


class Scope(_Model):
    device_id: UUID | None = None
    tag: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    device_type: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Scope:
        if sum(v is not None for v in (self.device_id, self.tag, self.device_type)) != 1:
            raise ValueError("give exactly one of device_id, tag, device_type")
        return self

    def matches(self, device_id: UUID, device_type: str, tags: Iterable[str]) -> bool:
        if self.device_id is not None:
            return device_id == self.device_id
        if self.tag is not None:
            return self.tag in tags
        return device_type == self.device_type


class RuleDefinition(_Model):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    scope: Scope
    severity: Severity
    condition: Condition
    clear_condition: Comparison | None = None  # default: the raise condition less hysteresis
    hysteresis: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    enabled: bool = True

    def matches_scope(self, device_id: UUID, device_type: str, tags: Iterable[str]) -> bool:
        return self.scope.matches(device_id, device_type, tags)

    @property
    def raise_comparison(self) -> Comparison | None:
        """What the measured value (a reading, or a rate) must satisfy; None for absence."""
        c = self.condition
        if isinstance(c, Absence):
            return None
        if isinstance(c, RateOfChange):
            return Comparison(op=">", value=c.rate)
        return Comparison(op=c.op, value=c.value)

    @property
    def clear_comparison(self) -> Comparison | None:
        raised = self.raise_comparison
        if self.clear_condition is not None or raised is None:
            return self.clear_condition
        op, sign = _DEFAULT_CLEAR[raised.op]
        return Comparison(op=op, value=raised.value + sign * self.hysteresis)


def check_definition(definition: RuleDefinition) -> None:
    """The cross-field rules; raises `InvalidInput` naming the field."""
    raised, clear = definition.raise_comparison, definition.clear_condition
    if clear is not None and definition.hysteresis:
        raise InvalidInput("give a clear_condition or a hysteresis, not both", "hysteresis")
    if raised is None and clear is not None:
        raise InvalidInput("an absence alert clears on the next reading", "clear_condition")
    if raised is not None and clear is not None and overlaps(raised, clear):
        raise InvalidInput(
            f"clear {clear.op} {clear.value} overlaps raise {raised.op} {raised.value}",
            "clear_condition",
        )
    cond = definition.condition
    if isinstance(cond, RateOfChange) and definition.hysteresis >= cond.rate:
        raise InvalidInput("hysteresis must be below the rate", "hysteresis")
    try:  # the derived clear bound must be a finite number too (value +- hysteresis)
        definition.clear_comparison  # noqa: B018 - computed for its validation
    except (ValueError, OverflowError):
        raise InvalidInput("value +- hysteresis is not a finite number", "hysteresis") from None


def overlaps(a: Comparison, b: Comparison) -> bool:
    """Whether some number satisfies both: one probe in each region the two bounds cut."""
    low, high = sorted((a.value, b.value))
    probes = (math.nextafter(low, -math.inf), low, (low + high) / 2, high)
    return any(a.holds(x) and b.holds(x) for x in (*probes, math.nextafter(high, math.inf)))


def parse_rule_definition(data: Mapping[str, Any]) -> RuleDefinition:
    """For the API: a checked definition, or `InvalidInput` naming the first bad field."""
    try:
        definition = RuleDefinition.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise InvalidInput(f"{field or 'rule'}: {first['msg']}", field) from None
    check_definition(definition)
    return definition


@dataclass(frozen=True)
class RuleVersion:
    """One revision of a rule, as evaluation and the alerting policy use it (with the derived
    comparisons computed once: evaluation is on the hot path)."""

    rule_id: UUID
    tenant_id: str
    revision: int
    definition: RuleDefinition
    raising: Comparison | None = field(init=False, repr=False, compare=False)
    clearing: Comparison | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "raising", self.definition.raise_comparison)
        object.__setattr__(self, "clearing", self.definition.clear_comparison)


class AlertRule(Aggregate):
    """Build with `AlertRule.create`, which checks the definition first. Events carry the full
    definition as JSON values (`RuleDefinition.model_dump(mode="json")`)."""

    @classmethod
    def create(cls, tenant_id: str, definition: RuleDefinition) -> AlertRule:
        check_definition(definition)
        return cls(tenant_id=tenant_id, definition=definition.model_dump(mode="json"))

    @event("Created")
    def __init__(self, tenant_id: str, definition: dict[str, Any]) -> None:
        self.tenant_id = tenant_id
        self.deleted = False
        self.revision = 1
        self.definition = RuleDefinition.model_validate(definition)

    def revise(self, definition: RuleDefinition) -> bool:
        """Record the next revision; False (nothing recorded) when the definition is unchanged."""
        self._refuse_if_deleted()
        check_definition(definition)
        if definition == self.definition:
            return False
        self._revised(revision=self.revision + 1, definition=definition.model_dump(mode="json"))
        return True

    def delete(self) -> None:
        self._refuse_if_deleted()
        self._deleted()

    def current(self) -> RuleVersion:
        return RuleVersion(self.id, self.tenant_id, self.revision, self.definition)

    def _refuse_if_deleted(self) -> None:
        if self.deleted:
            raise AlertRuleDeleted(f"alert rule {self.id} is deleted")

    @event("Revised")
    def _revised(self, revision: int, definition: dict[str, Any]) -> None:
        self.revision = revision
        self.definition = RuleDefinition.model_validate(definition)

    @event("Deleted")
    def _deleted(self) -> None:
        self.deleted = True


# Its events, named in code (`write_side.event_names`): consumers refer to these, never to strings.
RULE_CREATED = event_name(AlertRule, "Created")
RULE_REVISED = event_name(AlertRule, "Revised")
RULE_DELETED = event_name(AlertRule, "Deleted")
RULE_EVENTS = (RULE_CREATED, RULE_REVISED, RULE_DELETED)
