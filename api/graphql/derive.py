"""GraphQL output types derived from the pydantic output shapes (issue 11, item 1).

A type is declared once, as a pydantic model (`api.device_view.DevicePublic`); `derived_type`
adds one GraphQL field per model field to a strawberry class, with the model's description,
each resolving from the model instance the object wraps (`view`). So the GraphQL object is
built as `Device(view=DevicePublic.from_status(status))` and a field added to the model needs no
edit here.

Ours rather than `strawberry.experimental.pydantic.type(model, all_fields=True)`: in the pinned
strawberry (0.341) that integration maps a `UUID` to a `UUID` scalar where the schema has always
said `ID`, cannot map `dict[str, str]` at all (the schema's `JSON`), and has no way to give one
field arguments (`Device.lastValues(metrics:)`) while deriving the rest; overriding those by
hand in the class would spell the fields out again. The mapping here is small and total over
the types the shapes use: `UUID` -> `ID`, `dict` -> `JSON`, an `Enum` -> the same class as a
GraphQL enum, a model -> its derived type, `list`/`| None` around any of these, and scalars
(`str`, `int`, `float`, `bool`, `datetime`, our `Long`) as they are. Anything else is a
`TypeError` when the schema module is imported, not a wrong schema.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Collection
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

import strawberry
from pydantic import BaseModel
from strawberry.scalars import JSON
from strawberry.types.field import StrawberryField

from api.graphql.scalars import Long

T = TypeVar("T")
Convert = Callable[[Any], Any]

_SCALARS: tuple[type, ...] = (str, int, float, bool, datetime)
# Each model's derived GraphQL class, so a nested model resolves to its one GraphQL type.
_DERIVED: dict[type[BaseModel], type] = {}
E = TypeVar("E", bound=Enum)


def derived_type(
    model: type[BaseModel], name: str, omit: Collection[str] = ()
) -> Callable[[type[T]], type[T]]:
    """Decorator: make the class a strawberry type named `name` with a field per model field
    (but those in `omit`: a field only REST shows, `AlertRulePublic.definition`).

    The class declares `view: strawberry.Private[<model>]` and may define fields of its own
    (a field with arguments); a model field of the same name is then left to the class, moved
    to the model's place so the fields keep the model's order; a field the model lacks
    (`Alert.rule`) stays just before the class's next field the model has, or comes last."""

    def wrap(cls: type[T]) -> type[T]:
        own = set(vars(cls))
        # The class's fields the model lacks, in the class's order: each is placed just before
        # the class's next field the model has (`Alert.rule` before `timeline`), or at the end.
        extras = [n for n, v in vars(cls).items() if isinstance(v, StrawberryField)]
        extras = [n for n in extras if n not in model.model_fields]
        for field_name, info in model.model_fields.items():
            if field_name in omit:
                continue
            if field_name in own:
                before = list(vars(cls)).index(field_name)
                for extra in [n for n in extras if list(vars(cls)).index(n) < before]:
                    extras.remove(extra)
                    _move_last(cls, extra)
                _move_last(cls, field_name)
                continue
            graphql_type, convert = graphql_type_of(info.annotation)
            field = strawberry.field(
                resolver=_resolver(field_name, convert),
                graphql_type=graphql_type,
                description=info.description,
            )
            setattr(cls, field_name, field)
        for extra in extras:
            _move_last(cls, extra)
        derived = strawberry.type(cls, name=name)
        _DERIVED[model] = derived
        return derived

    return wrap


def part_type(model: type[BaseModel], name: str) -> type:
    """The derived type of a model shown only as a field of another (`RuleScope` of
    `AlertRule`): no fields of its own, never named in code, so no class statement."""
    private: Any = strawberry.Private  # subscripted with a class known at run time only
    namespace = {"__annotations__": {"view": private[model]}}
    return derived_type(model, name)(type(name, (), namespace))


def graphql_enum(enum: type[E]) -> type[E]:
    """The enum, registered as a GraphQL enum of the same name (strawberry marks the class
    itself, so pydantic models and GraphQL types share it)."""
    if not hasattr(enum, "__strawberry_definition__"):
        strawberry.enum(enum)
    return enum


def graphql_type_of(annotation: Any) -> tuple[Any, Convert]:
    """The GraphQL type for a model field's annotation, and how to convert a value to it."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        inner_type, convert = graphql_type_of(inner)
        return inner_type | None, lambda v: None if v is None else convert(v)
    if origin is list:
        item_type, convert_item = graphql_type_of(args[0])
        return list[item_type], lambda v: [convert_item(item) for item in v]  # type: ignore[valid-type]
    if origin is dict:
        return JSON, lambda v: JSON(dict(v))
    if annotation is UUID:
        return strawberry.ID, lambda v: strawberry.ID(str(v))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return graphql_enum(annotation), _same
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        derived = _DERIVED.get(annotation)
        if derived is None:
            raise TypeError(f"derive the GraphQL type of {annotation.__name__} first")
        return derived, lambda v: derived(view=v)
    if annotation in _SCALARS or annotation is Long:  # Long: the schema's own 64-bit scalar
        return annotation, _same
    raise TypeError(f"no GraphQL type for {annotation!r}: extend api.graphql.derive")


def _move_last(cls: type, name: str) -> None:
    """Re-set a class attribute so it comes last in the class's order (strawberry's order)."""
    defined = vars(cls)[name]
    delattr(cls, name)
    setattr(cls, name, defined)


def _same(value: Any) -> Any:
    return value


def _resolver(field_name: str, convert: Convert) -> Callable[..., Any]:
    def resolve(self: Any) -> Any:
        return convert(getattr(self.view, field_name))

    resolve.__name__ = f"resolve_{field_name}"
    return resolve
