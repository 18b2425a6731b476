"""What the gateway's protocol and publisher share (api/graphql/gateway.py): the stored
subscription and the ports (`GatewayStore`, `GatewayConnections`), the frames, and one run of a
subscription on the schema with a fan-out of its own (it notes the topics the
resolver subscribes to and yields the one notice given, if any: `RunFanout`)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from graphql import FieldNode, OperationDefinitionNode, VariableNode, parse, print_ast
from graphql.error import GraphQLSyntaxError

from api.auth import Principal
from api.graphql.context import GraphQLContext
from api.ports import FleetSystem
from read_side.notifications import ChangeNotice, Fanout

MAX_FRAME = 128 * 1024  # API Gateway's WebSocket frame limit
# Subscriptions that do not take their changes from the fan-out: `events` reads the feed itself
# and waits at its head, which an invocation can not do.
NOT_ON_GATEWAY = frozenset({"events"})
RUN_TIMEOUT_S = 20.0  # one run's longest (a backfill), within the function's 29 s


@dataclass(frozen=True)
class GatewaySubscription:
    """A live subscription of a connection: what to run, for whom, on which topic."""

    connection_id: str
    operation_id: str
    tenant_id: str
    topic: str
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None
    caller: Principal
    expires_at: float  # the connection's (epoch seconds): the gateway ends it then


class GatewayStore(Protocol):
    def open(self, connection_id: str, expires_at: float) -> None: ...
    def authenticate(self, connection_id: str, caller: Principal) -> None: ...
    def connection(self, connection_id: str) -> tuple[float, Principal | None] | None:
        """An open connection's end (epoch seconds) and its caller once `connection_init` was
        accepted; None when it is not open."""
        ...

    def subscribe(self, subscription: GatewaySubscription) -> None: ...
    def has(self, connection_id: str, operation_id: str) -> bool: ...
    def unsubscribe(self, connection_id: str, operation_id: str) -> None: ...
    def subscribers(self, tenant_id: str, topic: str) -> list[GatewaySubscription]: ...
    def close(self, connection_id: str) -> None:
        """Forget the connection and its subscriptions."""
        ...


class GatewayConnections(Protocol):
    """The gateway's `@connections` API."""

    def post(self, connection_id: str, data: bytes) -> bool:
        """Send a frame; False when the connection is gone (410)."""
        ...

    def disconnect(self, connection_id: str) -> None: ...


def frame(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), default=str).encode()


def _payload(result: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    return payload


class RunFanout(Fanout):
    """What a resolver subscribes to, noted; the notices it gets: `notice`, where it matches."""

    def __init__(self, notice: ChangeNotice | None = None) -> None:
        self.notice = notice
        self.topics: list[str] = []

    def publish(self, notice: ChangeNotice) -> None:  # pragma: no cover - never published to
        raise NotImplementedError

    def subscribe(self, tenant_id: str, topic: str) -> AsyncIterator[ChangeNotice]:
        self.topics.append(topic)
        notice = self.notice

        async def notices() -> AsyncIterator[ChangeNotice]:
            if notice is not None and (notice.tenant_id, notice.topic) == (tenant_id, topic):
                yield notice

        return notices()


class _System:
    """The system, with the fan-out of one run."""

    def __init__(self, system: FleetSystem, fanout: Fanout) -> None:
        self._system, self.fanout = system, fanout

    def __getattr__(self, name: str) -> Any:
        return getattr(self._system, name)


async def run_once(
    schema: Any,
    system: FleetSystem,
    subscription: tuple[str, dict[str, Any] | None, str | None],
    caller: Principal,
    fanout: RunFanout,
) -> list[Any]:
    """The results of one run (an error result when the document is refused)."""
    query, variables, operation_name = subscription
    context = GraphQLContext(cast(FleetSystem, _System(system, fanout)), caller)

    async def run() -> list[Any]:
        result = await schema.subscribe(
            query, variable_values=variables, context_value=context, operation_name=operation_name
        )
        if not hasattr(result, "__aiter__"):
            return [result]
        return [item async for item in result]

    return await asyncio.wait_for(run(), RUN_TIMEOUT_S)


def root_fields(query: str) -> set[str]:
    """The root field names of the document's operations (empty when it does not parse: the
    schema then says why)."""
    try:
        document = parse(query)
    except GraphQLSyntaxError:
        return set()
    return {
        selection.name.value
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
        for selection in definition.selection_set.selections
        if isinstance(selection, FieldNode)
    }


def without_cursor(query: str) -> tuple[str, set[str]]:
    """The document without the `after` argument of its root fields, and the variables that
    argument took (dropped from the operation too): what is stored once the backfill since the
    cursor was sent, the stored subscription being live only."""
    try:
        document = parse(query)
    except GraphQLSyntaxError:
        return query, set()
    dropped: set[str] = set()
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        for selection in definition.selection_set.selections:
            if isinstance(selection, FieldNode) and selection.arguments:
                for argument in selection.arguments:
                    if argument.name.value == "after" and isinstance(argument.value, VariableNode):
                        dropped.add(argument.value.name.value)
                kept = tuple(a for a in selection.arguments if a.name.value != "after")
                object.__setattr__(selection, "arguments", kept)
        definitions = tuple(
            d for d in definition.variable_definitions or () if d.variable.name.value not in dropped
        )
        object.__setattr__(definition, "variable_definitions", definitions)
    return print_ast(document), dropped


class GatewayParts:
    """What the protocol and the publisher are built of: the system, the schema, the store,
    the gateway's `@connections`, a clock (epoch seconds)."""

    def __init__(
        self,
        system: FleetSystem,
        schema: Any,
        store: GatewayStore,
        connections: GatewayConnections,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.system, self.schema, self.store = system, schema, store
        self.connections, self.clock = connections, clock


Sent = Literal["next", "error", "gone"]


def send_result(
    connections: GatewayConnections, connection_id: str, operation_id: str, result: Any
) -> Sent:
    """The result as a `next` frame, or an `error` frame when it has errors and no data (a
    refused document) or is over the gateway's limit: an `error` ends the operation, nothing
    follows it, not even `complete` (graphql-transport-ws). "gone": the connection is."""
    if result.errors and result.data is None:
        errors = frame({"type": "error", "id": operation_id, "payload": _payload(result)["errors"]})
        return "error" if connections.post(connection_id, errors) else "gone"
    data = frame({"type": "next", "id": operation_id, "payload": _payload(result)})
    if len(data) > MAX_FRAME:
        message = f"the change is {len(data)} bytes, over the gateway's {MAX_FRAME}"
        sent = send_error(connections, connection_id, operation_id, "PAYLOAD_TOO_LARGE", message)
        return "error" if sent else "gone"
    return "next" if connections.post(connection_id, data) else "gone"


def send_error(
    connections: GatewayConnections, connection_id: str, operation_id: str, code: str, text: str
) -> bool:
    errors = [{"message": text, "extensions": {"code": code}}]
    return connections.post(
        connection_id, frame({"type": "error", "id": operation_id, "payload": errors})
    )
