"""REST errors as `{"error": {"code", "message", "field"?}}`, FastAPI's own included; anything
unexpected is logged and answered 500 INTERNAL_SERVER_ERROR with no detail."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.auth import Unauthenticated
from api.errors import (
    HTTP_STATUS,
    INTERNAL_MESSAGE,
    INTERNAL_SERVER_ERROR,
    ClientError,
    describe,
    invalid_input,
)
from api.rest.models import ErrorBody
from write_side.errors import DomainError

log = logging.getLogger(__name__)


def _documented(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    """An error response in the OpenAPI document: the error body, and when it is answered."""
    return {status: {"model": ErrorBody, "description": description}}


ERROR_RESPONSES = (
    _documented(401, "Missing, invalid or expired bearer token (UNAUTHENTICATED).")
    | _documented(403, "The caller's roles do not grant this (FORBIDDEN).")
    | _documented(422, "Invalid input (BAD_USER_INPUT); `field` names the culprit.")
)


def not_found(thing: str) -> dict[int | str, dict[str, Any]]:
    """The 404 of a route reading one `thing` ("device", "alert rule")."""
    return _documented(404, f"No such {thing} in your tenant.")


def conflict(thing: str, also: str = "") -> dict[int | str, dict[str, Any]]:
    """The 409 of a write with an expected version; `also` adds the resource's own refusals."""
    return _documented(409, f"The {thing} changed since `expectedVersion` (CONFLICT){also}.")


def error_response(error: ClientError, status: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.field is not None:
        body["field"] = error.field
    status = status or error.http_status
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": body}, status_code=status, headers=headers)


async def _expected(request: Request, exc: Exception) -> JSONResponse:
    described = describe(exc)
    if described is None:
        return await _unexpected(request, exc)
    return error_response(described)


async def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return error_response(ClientError("BAD_REQUEST", "the body is not valid JSON"), 400)
    loc = tuple(first.get("loc", ()))
    where = loc[1:] if loc and loc[0] in {"body", "query", "path", "header"} else loc
    return error_response(invalid_input(where, str(first.get("msg"))))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    codes = (code for code, status_of_code in HTTP_STATUS.items() if status_of_code == status)
    code = next(codes, "BAD_REQUEST" if status < 500 else "ERROR")
    return error_response(ClientError(code, str(exc.detail)), exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(ClientError(INTERNAL_SERVER_ERROR, INTERNAL_MESSAGE), 500)


def install_error_handlers(app: FastAPI) -> None:
    for expected in (DomainError, Unauthenticated):
        app.add_exception_handler(expected, _expected)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
