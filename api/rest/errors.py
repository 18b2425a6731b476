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
from api.errors import INTERNAL_MESSAGE, INTERNAL_SERVER_ERROR, ClientError, describe, invalid_input
from api.rest.models import ErrorBody
from write_side.errors import DomainError

log = logging.getLogger(__name__)

FIELD_NAMES = {"device_id": "deviceId"}  # command field -> REST name

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (401, "Missing, invalid or expired bearer token (UNAUTHENTICATED)."),
        (403, "The caller's roles do not grant this (FORBIDDEN)."),
        (422, "Invalid input (BAD_USER_INPUT); `field` names the culprit."),
    )
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such device in your tenant."}
}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ErrorBody,
        "description": "The device changed since `expectedVersion` (CONFLICT), "
        "or is decommissioned (ALREADY_DECOMMISSIONED).",
    }
}


def error_response(error: ClientError, status: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.field is not None:
        body["field"] = error.field
    status = status or error.http_status
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": body}, status_code=status, headers=headers)


async def _expected(request: Request, exc: Exception) -> JSONResponse:
    described = describe(exc, FIELD_NAMES)
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
    return error_response(invalid_input(where, str(first.get("msg")), FIELD_NAMES))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 401: "UNAUTHENTICATED"}
    code = codes.get(exc.status_code, "BAD_REQUEST" if exc.status_code < 500 else "ERROR")
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
