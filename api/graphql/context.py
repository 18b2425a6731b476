"""The per-request (per-websocket, for subscriptions) GraphQL context."""

from __future__ import annotations

from typing import TypeAlias

import strawberry
from strawberry.fastapi import BaseContext

from api.auth import Caller, Permission, Principal, authorize
from api.ports import FleetSystem


class GraphQLContext(BaseContext):
    """Holds the system and the caller; on a websocket, one context serves every operation of
    the connection (the caller is set once, by `connection_init`)."""

    def __init__(self, system: FleetSystem, caller: Caller) -> None:
        super().__init__()
        self.system = system
        self.caller = caller

    def authorize(self, permission: Permission) -> Principal:
        return authorize(self.caller, permission)


Info: TypeAlias = strawberry.Info[GraphQLContext, None]
