"""FastAPI dependencies: the system, and the caller with a permission."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Permission, Principal, authenticate, authorize
from api.ports import FleetSystem

bearer = HTTPBearer(auto_error=False, description="A JWT: `Authorization: Bearer <token>`")


def get_system(request: Request) -> FleetSystem:
    return cast(FleetSystem, request.app.state.system)


SystemDep = Annotated[FleetSystem, Depends(get_system)]


def require(permission: Permission) -> Callable[..., Principal]:
    """A dependency that authenticates the caller and checks `permission`."""

    def caller(
        system: SystemDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        principal = None
        if credentials is not None:
            principal = authenticate(credentials.credentials, system.settings)
        return authorize(principal, permission)

    return caller
