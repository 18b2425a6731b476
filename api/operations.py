"""The operation table (issue 11, item 3): every API operation declared once, for both adapters.

An `Operation` names what it does once: its permission, its input shape (`api.inputs.Input`),
its plain arguments, the one call it makes (a command through `api.command_path`, or a read),
and its output model (`api.device_view.DevicePublic`, ...). Two small generic adapters make the
table into FastAPI routes (`api.rest.routes`) and strawberry fields (`api.graphql.fields`):
each authorizes, takes the arguments in, runs `run(call)` and shows the answer; neither knows
any one operation. What differs between the two wires is declared in the entry, `Rest` (method,
path, status, `ETag`, `Location`, `If-Match`) and `GraphQL` (field name, query or mutation, the
name of the derived input), so adding an operation is adding one entry:

    Operation(
        "update_device", Permission.WRITE_DEVICES, update_device, DevicePublic,
        shape=DeviceUpdate, args=(DEVICE_ID,),
        rest=Rest("PUT", "/devices/{deviceId}", "Update a device", if_match="a device"),
        graphql=GraphQL("update_device", MUTATION, input="UpdateDeviceInput"),
    )

Kinds of operation, by what `run` answers: one object (`output`, or None: REST 404 and GraphQL
null, with `nullable`), a page of rows (`paged`: REST's page model of `output`s, GraphQL's
connection of the derived type), or every one of a short list (`many`: a JSON array, a GraphQL
list, never null)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from anyio import to_thread
from fastapi import Query
from pydantic import BaseModel

from api.auth import Permission, Principal
from api.inputs import Input
from api.ports import FleetSystem
from read_side.paging import MAX_PAGE_SIZE, check_page_size
from write_side.errors import InvalidInput

T = TypeVar("T")

QUERY: Literal["query"] = "query"
MUTATION: Literal["mutation"] = "mutation"
REQUIRED: Any = ...  # an argument's default when it has none
AFTER = "`nextCursor` of the previous page."


@dataclass(frozen=True)
class Call:
    """One operation's arguments, however the adapter took them: the caller (authorized), the
    input shape validated by its model, and the plain arguments by name (`args["id"]`)."""

    system: FleetSystem
    caller: Principal
    shape: Any = None
    args: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.args[name]

    async def read(self, reader: Callable[..., T], *args: Any) -> T:
        """`reader(<the caller's tenant>, *args)` in a worker thread (a read model's method)."""
        return await to_thread.run_sync(partial(reader, self.caller.tenant_id, *args))

    async def page(self, reader: Callable[..., T], criteria: Any) -> T:
        """A listing's page: `reader(tenant, criteria, first, after)`, `first` checked (REST's
        query has checked it already; GraphQL's `Int` has no bounds)."""
        return await self.read(reader, criteria, check_page_size(self["first"]), self["after"])


@dataclass(frozen=True)
class Arg:
    """A plain argument: its name (GraphQL's, in camelCase by strawberry; REST's alias is in
    its annotation), its annotation in each adapter (None: that adapter does not take it; a
    REST annotation carries FastAPI's `Path`/`Query`), its default, and how GraphQL's value is
    parsed (`parse_id`: an `ID` is a string; REST's annotation validates its own)."""

    name: str
    rest: Any
    graphql: Any
    default: Any = REQUIRED
    parse: Callable[[Any, str], Any] | None = None


@dataclass(frozen=True)
class Rest:
    """The REST route of an operation. `shape_in`: the input shape is the JSON body, an
    optional body, or the query string. `if_match`: the version may come as an `If-Match`
    header (naming the resource in its message; `lowest` 0 where a version 0 exists). `etag`:
    the answer's version as the `ETag`. `model`/`answer`: REST shows something other than the
    operation's output (`answer(call, output)`, run in a worker thread)."""

    method: str
    path: str
    summary: str
    status: int = 200
    shape_in: Literal["body", "optional body", "query"] = "body"
    examples: list[Any] | None = None
    if_match: str | None = None
    lowest: int = 1
    etag: bool = True
    location: Callable[[Any], str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    responses: Mapping[int | str, dict[str, Any]] = field(default_factory=dict)
    model: Any = None
    answer: Callable[[Call, Any], Any] | None = None


@dataclass(frozen=True)
class GraphQL:
    """The GraphQL field of an operation: its name (python's; strawberry camelCases it), query
    or mutation, and the name of the derived input its shape is taken as (`input: X!` for a
    mutation, `filter: X = null` for a query), and its model when it is not the REST shape
    (`RuleCreate` holds the definition REST takes as the whole body), and the name of the
    GraphQL type that shows the output when it is not the one derived from it (a class holding
    it as `view`: `AuditEventConnection` shows REST's page as a connection)."""

    name: str
    kind: Literal["query", "mutation"]
    input: str | None = None
    shape: type[Input] | None = None
    output: str | None = None


@dataclass(frozen=True)
class Paged:
    """A listing: `run` answers a page of rows, each shown as `item(row)`, its GraphQL cursor
    `cursor(row)`; REST answers `page` (an `ItemsPage` of the output), GraphQL a connection
    (`connection`: a named one; default `Connection[<derived output>]`)."""

    item: Callable[[Any], BaseModel]
    cursor: Callable[[Any], str]
    page: Any
    connection: str | None = None


@dataclass(frozen=True)
class Operation:
    name: str  # REST's endpoint name (its operationId starts with it)
    permission: Permission
    run: Callable[[Call], Awaitable[Any]]
    output: type[BaseModel]
    shape: type[Input] | None = None
    args: tuple[Arg, ...] = ()
    nullable: bool = False  # a read that finds nothing: REST 404 (`missing`), GraphQL null
    missing: str = "not found"
    paged: Paged | None = None
    many: bool = False  # `run` answers a list of `output`s (a short one: no paging)
    rest: Rest | None = None
    graphql: GraphQL | None = None
    # `run`'s answer as the output model where `run` answers something else, cheaper to send
    # (REST's `answer` then encodes it itself: `api.analytics.AnalyticsAnswer`)
    view: Callable[[Any], BaseModel] | None = None


def parse_id(what: str) -> Callable[[Any, str], UUID]:
    """A GraphQL `ID` as a UUID, or InvalidInput on the argument (`not a device id ...`)."""

    def parse(value: Any, field: str) -> UUID:
        try:
            return UUID(str(value))
        except (ValueError, TypeError):
            raise InvalidInput(f"not {what} (expected a UUID)", field=field) from None

    return parse


# A page's arguments, as every listing takes them (GraphQL checks `first` in `run`).
PAGE_ARGS = (
    Arg("first", Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)], int, 50),
    Arg("after", Annotated[str | None, Query(description=AFTER)], str | None, None),
)
