"""The device's OTA routes over HTTP (docs/firmware.md section 12.5), device credential
(`Authorization: Device <token>`), never a user's bearer token:

- `GET /devices/{deviceId}/jobs/next`: the job document of the device's active execution, read
  from the write side (never stale), with `ETag: "{executionId}:{attempt}:{version}"`;
  `If-None-Match` with that tag is `304`; `204` when nothing is pending;
- `POST /devices/{deviceId}/jobs/{executionId}/updates`: an update, `200 {seq, duplicate}`;
- `GET /firmware/{firmwareId}/image`: the image (RFC 7233 `Range`: `206`, `416`), for a device
  of the release's tenant and of a type it is made for;
- `GET /firmware/blobs/{tenant}/{sha256}?expires=&signature=`: the local store's presigned
  download (the URL of a job document with that store), no credential.

Errors: `{"error": {code, message, field?}}` with the status of `device_jobs.STATUS`.
`jobs_router_for(system)` returns the router; the API mounts it beside `POST /ingest`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ingestion.device_jobs import (
    STATUS,
    DeviceDenied,
    DeviceJobService,
    parse_device_id,
    parse_update,
)
from ota.downloads import Download, refusal_headers
from ota.errors import RangeNotSatisfiable
from write_side.credentials import AccessDenied, parse_token
from write_side.errors import DomainError

T = TypeVar("T")
RANGE = {"description": "Part of the image (`Range`)."}


class HasDeviceJobs(Protocol):
    @property
    def device_jobs(self) -> DeviceJobService | None: ...


def jobs_router_for(system: HasDeviceJobs) -> APIRouter:
    router = APIRouter(tags=["device jobs"])

    async def answer(work: Callable[[DeviceJobService], T]) -> T | Response:
        service = system.device_jobs
        if service is None:
            return _error(503, "OTA_DISABLED", "device jobs are not served here")
        try:
            return await run_in_threadpool(work, service)
        except RangeNotSatisfiable as e:
            return Response(status_code=416, headers=refusal_headers(e))
        except DomainError as e:
            return _error(STATUS.get(e.code, 400), e.code, e.message, getattr(e, "field", None))

    @router.get(
        "/devices/{deviceId}/jobs/next",
        summary="The device's pending job (device token)",
        responses={204: {"description": "Nothing pending."}, 304: {"description": "Unchanged."}},
    )
    async def next_job(deviceId: str, request: Request) -> Response:
        token = _device_token(request)

        def work(service: DeviceJobService) -> Response:
            job = service.next_job(service.authenticate(parse_device_id(deviceId), token))
            if job is None:
                return Response(status_code=204)
            if _matches(request.headers.get("if-none-match"), job.etag):
                return Response(status_code=304, headers={"etag": job.etag})
            headers = {"etag": job.etag, "cache-control": "no-cache"}
            return JSONResponse(job.document.to_json(), headers=headers)

        return await answer(work)

    @router.post(
        "/devices/{deviceId}/jobs/{executionId}/updates",
        summary="A job update from the device (device token)",
    )
    async def update(deviceId: str, executionId: str, request: Request) -> Response:
        token, body = _device_token(request), await request.body()

        def work(service: DeviceJobService) -> Response:
            device = service.authenticate(parse_device_id(deviceId), token)
            command = parse_update(device.device_id, executionId, body)
            return JSONResponse(service.report(device, command).to_json())

        return await answer(work)

    @router.get(
        "/firmware/{firmwareId}/image",
        summary="A firmware image for a device (device token; Range)",
        responses={206: RANGE, 416: {"description": "No byte of the range exists."}},
    )
    async def image(firmwareId: UUID, request: Request) -> Response:
        token, ranges = _device_token(request), request.headers.get("range")

        def work(service: DeviceJobService) -> Download:
            parts = parse_token(token)
            if parts is None:
                raise DeviceDenied(AccessDenied.UNAUTHENTICATED)
            device = service.authenticate(parts.device_id, token)
            return service.image(device, firmwareId, ranges)

        return _streamed(await answer(work))

    @router.get(
        "/firmware/blobs/{rest:path}",
        summary="A presigned firmware download (local blob store)",
        responses={206: RANGE, 403: {"description": "A wrong signature or a past expiry."}},
    )
    async def presigned(rest: str, request: Request) -> Response:
        query, ranges = request.query_params, request.headers.get("range")

        def work(service: DeviceJobService) -> Download:
            expires, signature = query.get("expires", ""), query.get("signature", "")
            return service.presigned_image(rest, expires, signature, ranges)

        return _streamed(await answer(work))

    return router


def _streamed(result: Download | Response) -> Response:
    if isinstance(result, Response):
        return result
    return StreamingResponse(result.body, status_code=result.status, headers=result.headers)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _device_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "device" else None


def _error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, str] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    headers = {"WWW-Authenticate": "Device"} if status == 401 else {}
    return JSONResponse({"error": body}, status_code=status, headers=headers)
