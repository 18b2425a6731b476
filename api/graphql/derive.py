"""GraphQL types and inputs derived from the pydantic shapes (issue 11, item 1).

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

`derived_input` does the same for an input shape (`api.inputs.Input`: a REST body is the same
model), with the model's defaults, and `model_of` turns the GraphQL input object back into the
model, validated by it, so GraphQL and REST report a field at fault alike. A field GraphQL
gives with its default (filled in when left out: the two are one to a resolver) stays unset in
the model, as a REST field not sent does, so a shape's fields given (`exclude_unset`) mean the
same from both adapters (`api.alert_inputs`). Ours rather than
`strawberry.experimental.pydantic.input` for the reasons above, and because a default GraphQL
cannot print as a literal (`{}`, which broke the standard introspection query) must become
`null` with that meaning.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar, dataclass_transform
from uuid import UUID

import strawberry
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from strawberry.scalars import JSON
from strawberry.types.field import StrawberryField

from api.graphql.scalars import Long
from api.inputs import Input

T = TypeVar("T")
Convert = Callable[[Any], Any]

_SCALARS: tuple[type, ...] = (str, int, float, bool, datetime)
# Each model's derived GraphQL class, so a nested model resolves to its one GraphQL type.
_DERIVED: dict[type[BaseModel], type] = {}
# Each input model's derived GraphQL input class, and back.
_INPUTS: dict[type[BaseModel], type] = {}
_MODELS: dict[type, type[Input]] = {}
# GraphQL classes by their schema name, for the operation table (`api.graphql.fields`).
_NAMED: dict[str, type] = {}
E = TypeVar("E", bound=Enum)
M = TypeVar("M", bound=Input)


@dataclass_transform(kw_only_default=True)
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
                # A name the model gives itself (`Field(alias="from")`) is GraphQL's too; the
                # alias generator's camelCase (priority 1) is strawberry's own.
                name=info.alias if info.alias_priority == 2 else None,
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


@dataclass_transform(kw_only_default=True)
def derived_input(
    model: type[Input], name: str, *, unset: bool = False, undescribed: Collection[str] = ()
) -> Callable[[type[T]], type[T]]:
    """Decorator: make the class a strawberry input named `name` with a field per model field,
    named by the model's alias, with its description and its default. With `unset`, an
    optional field has no default: left out, it stays unset in the model (only the fields sent
    change; null clears). The class may declare fields of its own: one the model lacks (`id`,
    in REST the path) comes first; one the model has replaces it in its place (a field GraphQL
    requires where REST has a default or a header). The fields in `undescribed` go without the
    model's description (a note on REST's query string: "Repeatable.")."""

    def wrap(cls: type[T]) -> type[T]:
        own = dict(vars(cls).get("__annotations__", {}))
        annotations = {n: a for n, a in own.items() if n not in model.model_fields}
        for field_name, info in model.model_fields.items():
            if field_name in own:
                annotations[field_name] = own[field_name]
                continue
            graphql_type, _ = graphql_type_of(info.annotation, _INPUTS)
            described = info if field_name not in undescribed else _undescribed(info)
            annotations[field_name], field = _input_field(described, graphql_type, unset)
            setattr(cls, field_name, field)
        cls.__annotations__ = annotations
        derived = strawberry.input(cls, name=name)
        _INPUTS[model], _MODELS[derived] = derived, model
        return registered(derived)

    return wrap


def registered(cls: type[T]) -> type[T]:
    """Decorator: the strawberry class, findable by its schema name (`named`); every derived
    input is. The operation table names a GraphQL input (or a named connection) by it."""
    _NAMED[cls.__strawberry_definition__.name] = cls  # type: ignore[attr-defined]
    return cls


def named(name: str, derive: Callable[[], type] | None = None) -> type:
    """The registered GraphQL class of that schema name; else `derive()`'s, registered."""
    if name not in _NAMED:
        if derive is None:
            raise TypeError(f"no GraphQL class named {name!r}: import its module, or register it")
        _NAMED[name] = derive()
    return _NAMED[name]


def derived_of(model: type[BaseModel]) -> type:
    """The GraphQL type derived from an output model (`Device` of `DevicePublic`)."""
    if model not in _DERIVED:
        raise TypeError(f"derive the GraphQL type of {model.__name__} first")
    return _DERIVED[model]


def model_of(value: object, model: type[M], at: str = "") -> M:
    """The input shape of a derived GraphQL input object, validated by the model: InvalidInput
    names the field at fault as REST does (`api.inputs`), after `at` (an argument's name)."""
    return model.parse(_values(value, model), at)


def _values(value: object, model: type[BaseModel]) -> dict[str, Any]:
    """The fields given, none left unset nor at its GraphQL default (which is what GraphQL fills
    in for a field left out: null where null stands for the model's default), nested inputs as
    dicts, so the outer model validates (and locates) them."""
    defaults = _graphql_defaults(value)
    values = {}
    for name in model.model_fields:
        given = getattr(value, name, strawberry.UNSET)
        if given is strawberry.UNSET or (name in defaults and given == defaults[name]):
            continue
        values[name] = _plain(given)
    return values


def _graphql_defaults(value: object) -> dict[str, Any]:
    """The default of each field of a derived input that has one."""
    defaults = {}
    for field in dataclasses.fields(value):  # type: ignore[arg-type]  # a strawberry input
        if field.default is not dataclasses.MISSING:
            defaults[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            defaults[field.name] = field.default_factory()
    return defaults


def _plain(value: Any) -> Any:
    if type(value) in _MODELS:
        return _values(value, _MODELS[type(value)])
    return [_plain(item) for item in value] if isinstance(value, list) else value


def _undescribed(info: FieldInfo) -> FieldInfo:
    undescribed = copy.copy(info)
    undescribed.description = None
    return undescribed


def _unprintable(info: FieldInfo) -> bool:
    """A default graphql-core cannot print as a literal (issue 11: `{}` broke introspection)."""
    return bool(info.get_default(call_default_factory=True) == {})


def _input_field(info: FieldInfo, graphql_type: Any, unset: bool) -> tuple[Any, Any]:
    """The GraphQL type and the strawberry field of an input field."""
    spec: dict[str, Any] = {"name": info.alias, "description": info.description}
    if _unprintable(info):  # `null` (or left out) means the default
        note = "omitted or null means none (`{}`)."
        base = info.description
        spec["description"] = f"{base.removesuffix('.')}; {note}" if base else note.capitalize()
        return graphql_type | None, strawberry.field(default=None, **spec)
    if info.default_factory is not None:
        return graphql_type, strawberry.field(default_factory=info.default_factory, **spec)
    if info.is_required():
        return graphql_type, strawberry.field(**spec)
    unset_default = unset and info.default is None
    return graphql_type, strawberry.field(
        default=strawberry.UNSET if unset_default else info.default, **spec
    )


def graphql_type_of(
    annotation: Any, derived: Mapping[type[BaseModel], type] = _DERIVED
) -> tuple[Any, Convert]:
    """The GraphQL type for a model field's annotation, and how to convert a value to it (for
    an output; `derived` maps a nested model to its derived type, or input)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:  # constraints inside a type (`list[Annotated[int, ...]]`)
        return graphql_type_of(args[0], derived)
    if origin in (types.UnionType, typing.Union) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        inner_type, convert = graphql_type_of(inner, derived)
        return inner_type | None, lambda v: None if v is None else convert(v)
    if origin is list:
        item_type, convert_item = graphql_type_of(args[0], derived)
        return list[item_type], lambda v: [convert_item(item) for item in v]  # type: ignore[valid-type]
    if origin is dict:
        return JSON, lambda v: JSON(dict(v))
    if annotation is UUID:
        return strawberry.ID, lambda v: strawberry.ID(str(v))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return graphql_enum(annotation), _same
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        graphql_type = derived.get(annotation)
        if graphql_type is None:
            raise TypeError(f"derive the GraphQL type of {annotation.__name__} first")
        return graphql_type, lambda v: graphql_type(view=v)
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
