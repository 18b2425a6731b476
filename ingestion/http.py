"""HTTP transport: `POST /ingest` takes a batch of messages from devices (or a gateway).

Body `{"messages": [message, ...]}` (1..1,000 messages, at most 1 MB). Authentication is the
device's, not a user's: `Authorization: Device <token>` for a one-device batch, or a `token` in
each message (gateways). The answer comes after the commit that holds the accepted messages:

- 200 `{"results": [...]}`: every message accepted (or a duplicate of one already stored);
- 207: the same body, when some messages or single readings were rejected (each result says
  why: `code`/`detail` for a message, `rejections` for readings);
- 401 when no message authenticated; 400 `INVALID_JSON`; 422 `NOT_A_BATCH`; 413
  `PAYLOAD_TOO_LARGE`; 503 `OVERLOADED` (buffer full) or `STORE_UNAVAILABLE` (not committed
  in time; nothing of it is acknowledged, retrying is safe: message ids make it idempotent),
  both with `Retry-After`.

`router_for(system)` returns the router; the API mounts it (`app.include_router(...)`).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ingestion.buffer import IngestService, Overloaded
from write_side.ingestion import MessageResult, Submission

MAX_BODY_BYTES = 1_000_000
MAX_MESSAGES = 1000
COMMIT_TIMEOUT_S = 30.0
AUTH_CODES = frozenset({"UNAUTHENTICATED", "UNKNOWN_DEVICE", "DEVICE_DECOMMISSIONED"})


class HasIngest(Protocol):
    @property
    def ingest(self) -> IngestService | None: ...


def router_for(system: HasIngest) -> APIRouter:
    router = APIRouter(tags=["ingestion"])

    @router.post(
        "/ingest",
        summary="Telemetry from devices (device token, not a user's bearer token)",
        responses={
            207: {"description": "Some messages or readings were rejected (see results)."},
            401: {"description": "No message authenticated."},
            503: {"description": "Overloaded or the store is unavailable: retry later."},
        },
    )
    async def ingest(request: Request) -> JSONResponse:
        service = system.ingest
        if service is None:
            return _error(503, "INGESTION_DISABLED", "ingestion does not run here", retry=30)
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _error(413, "PAYLOAD_TOO_LARGE", f"the body is over {MAX_BODY_BYTES} bytes")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _error(413, "PAYLOAD_TOO_LARGE", f"the body is over {MAX_BODY_BYTES} bytes")
        messages, problem = _messages(body)
        if messages is None:
            if problem.startswith("not JSON"):
                return _error(400, "INVALID_JSON", problem)
            return _error(422, "NOT_A_BATCH", problem, field="messages")
        token = _device_token(request.headers.get("authorization"))
        submissions = [
            Submission(m if isinstance(m, dict) else json.dumps(m), "http", token=token)
            for m in messages
        ]
        batch = _BatchResults(asyncio.get_running_loop(), len(submissions))
        try:
            refused = await run_in_threadpool(
                service.submit_each, submissions, batch.callbacks(), block=False
            )
        except Overloaded as e:
            return _error(503, e.code, str(e), retry=1)
        try:
            async with asyncio.timeout(COMMIT_TIMEOUT_S):
                results = await batch.wait(refused)
        except TimeoutError:
            results = None
        if results is None:  # not committed (store down, service stopping, timeout)
            detail = "the batch could not be committed now; retry later (idempotent)"
            return _error(503, "STORE_UNAVAILABLE", detail, retry=5)
        return JSONResponse({"results": [r.to_json() for r in results]}, _status(results))

    return router


class _BatchResults:
    """One request's results: the queued messages' are told by the ingestion flusher (one
    callback each, no `Future` per message); the request's coroutine awaits the last one."""

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self._loop = loop
        self._done: asyncio.Future[None] = loop.create_future()
        self._results: list[MessageResult | None] = [None] * count
        self._failed = False
        self._lock = threading.Lock()
        self._told = 0
        self._expected: int | None = None  # known once submitted

    def callbacks(self) -> list[Callable[[MessageResult | None], None]]:
        return [partial(self._tell, k) for k in range(len(self._results))]

    async def wait(self, refused: list[MessageResult | None]) -> list[MessageResult] | None:
        """Every message's result, in order, once the last is told; None when any was not
        committed. `refused`: what `submit_each` answered at once."""
        with self._lock:
            for k, result in enumerate(refused):
                if result is not None:
                    self._results[k] = result
            self._expected = sum(1 for r in refused if r is None)
            finished = self._told == self._expected
        if finished:
            self._finish()
        await self._done
        if self._failed or any(r is None for r in self._results):
            return None
        return [r for r in self._results if r is not None]

    def _tell(self, k: int, result: MessageResult | None) -> None:  # the flusher thread
        with self._lock:
            self._results[k] = result
            self._failed = self._failed or result is None
            self._told += 1
            finished = self._told == self._expected
        if finished:
            self._loop.call_soon_threadsafe(self._finish)

    def _finish(self) -> None:
        if not self._done.done():
            self._done.set_result(None)


def _messages(body: bytes) -> tuple[list[Any] | None, str]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        return None, f"not JSON: {e}"
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        return None, f'the body must be {{"messages": [...]}} with 1..{MAX_MESSAGES} messages'
    return messages, ""


def _device_token(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "device" else None


def _status(results: list[MessageResult]) -> int:
    if all(r.status == "rejected" and r.code in AUTH_CODES for r in results):
        return 401
    if any(r.status == "rejected" or r.rejections for r in results):
        return 207
    return 200


def _error(
    status: int, code: str, message: str, *, field: str | None = None, retry: int | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    headers = {"Retry-After": str(retry)} if retry is not None else {}
    if status == 401:
        headers["WWW-Authenticate"] = "Device"
    return JSONResponse({"error": body}, status_code=status, headers=headers)
