"""End-to-end fixtures: the whole system on a fresh SQLite file (in-process fan-out), the ASGI
app, and tokens. Fixture names start with `api_` so they do not shadow other suites'."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import issue_token
from api.graphql.frames import server_options
from fleetwatch.bootstrap import System, build_system
from fleetwatch.settings import Settings

TEST_SECRET = "e2e-test-secret-of-sufficient-length"

Tokens = Callable[..., str]


@pytest.fixture
def api_settings(tmp_path: Any) -> Settings:
    settings = Settings(
        store="sqlite",
        sqlite_path=tmp_path / "fleet.sqlite3",
        jwt_secret=TEST_SECRET,
        jwks_url=None,
        jwt_issuer=None,
        jwt_audience=None,
        run_projections=True,
    )
    return settings.model_copy(update={"redis_url": None})  # in-process fan-out


@pytest.fixture
def api_system(api_settings: Settings) -> Iterator[System]:
    system = build_system(api_settings)
    system.start()
    yield system
    system.close()


@pytest.fixture
def api_app(api_system: System) -> FastAPI:
    return create_app(api_system)


@pytest.fixture
def api_client(api_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(api_app) as client:
        yield client


@pytest.fixture
def tokens(api_settings: Settings) -> Tokens:
    """`tokens(tenant, *roles)`: a bearer token (header value) for a fresh subject."""

    def make(tenant_id: str, *roles: str, ttl: int = 600) -> str:
        token = issue_token(api_settings, f"user-{uuid.uuid4().hex[:6]}", tenant_id, roles, ttl)
        return f"Bearer {token}"

    return make


def new_tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def live_url(api_app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        api_app, host="127.0.0.1", port=port, lifespan="off", log_level="warning",
        **server_options(ws_compression=False),
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
