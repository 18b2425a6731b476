"""Base of the input shapes (issue 11, items 1 and 2): a REST request body and the GraphQL input
derived from it (`api.graphql.derive.derived_input`) are one pydantic model, so they validate
alike and name a field at fault alike.

The one error path: a validation error's location is rewritten here, in the model, to the field
as the client spells it, nested inputs dotted (`quietHours.start`). FastAPI's 422 and GraphQL's
BAD_USER_INPUT both report the first string of that location, so both adapters name the same
field. A dict's keys and a list's indexes are not fields: `metadata` stays `metadata`."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails, InitErrorDetails

from write_side.errors import InvalidInput

Loc = tuple[int | str, ...]


class Input(BaseModel):
    """camelCase on the wire, unknown fields rejected, errors located as the client spells it."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _client_locations(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        try:
            return handler(data)
        except ValidationError as e:
            errors = [_located(cls, error) for error in e.errors()]
            raise ValidationError.from_exception_data(e.title, errors) from None

    @classmethod
    def parse(cls, values: Mapping[str, object], at: str = "") -> Self:
        """The input from values by field name (GraphQL's way in; FastAPI validates REST's), or
        InvalidInput naming the first field at fault, after `at` (`filter.ruleId`)."""
        try:
            return cls.model_validate(values)
        except ValidationError as e:
            first = e.errors()[0]
            field = next((part for part in first["loc"] if isinstance(part, str)), None)
            raise InvalidInput(first["msg"], field=dotted(at, field)) from None


def dotted(at: str, field: str | None) -> str | None:
    """`field` after `at` (either may be empty), as the client spells a nested field."""
    return ".".join(part for part in (at, field) if part) or None


def client_loc(model: type[BaseModel], loc: Loc) -> Loc:
    """`loc` with its leading run of (nested) model fields as one dotted client name:
    `('quiet_hours', 'start', ...)` -> `('quietHours.start', ...)`; a key the model lacks ends
    the run (`quietHours.snooze`), as a dict's key or a list's index is left out of it."""
    path: list[str] = []
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None or not isinstance(part, str):
            break
        names = {info.alias or name: name for name, info in current.model_fields.items()}
        name = names.get(part) or (part if part in current.model_fields else None)
        if name is None:  # a key the model lacks (extra), or a nested input's dotted path
            path.append(part)
            break
        info = current.model_fields[name]
        path.append(info.alias or to_camel(name))
        current = _model_in(info.annotation)
    return (".".join(path), *loc[len(path) :]) if path else loc


def _located(model: type[BaseModel], error: ErrorDetails) -> InitErrorDetails:
    details = InitErrorDetails(
        type=error["type"], loc=client_loc(model, error["loc"]), input=error["input"]
    )
    if "ctx" in error:
        details["ctx"] = error["ctx"]
    return details


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (also when optional); None for anything else."""
    if typing.get_origin(annotation) in (types.UnionType, typing.Union):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = inner[0] if len(inner) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None
