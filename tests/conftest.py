"""Shared fixtures: real components only (DynamoDB Local, Redis, Mosquitto), never mocks.

DynamoDB Local is started once per test session by `dynamodb_endpoint`. Redis and Mosquitto are
used where they answer (`FLEETWATCH_TEST_REDIS_URL`, `FLEETWATCH_TEST_MQTT_URL`; 127.0.0.1 on the
standard ports by default), else started for the session on that port, installed with apt-get when
missing (scripts/local_services.py). Here rather than in scripts/test, so that `pytest` run
directly gets them too, and only a session whose tests need them starts them. A component that
still is not there fails the tests that need it; nothing here skips.

Under pytest-xdist (scripts/test) every worker is a session of its own: each starts its own
DynamoDB Local, while Redis and Mosquitto are shared, so the controller starts them before the
workers where none answers (`pytest_configure`): a worker that did would stop them at the end of
its own session, under the others.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from dynamodb_local import dynamodb_local  # noqa: E402
from local_services import (  # noqa: E402
    MOSQUITTO,
    REDIS,
    Service,
    ServiceUnavailable,
    apt_install,
    running,
)

from fleetwatch.bootstrap import application_env  # noqa: E402
from fleetwatch.settings import Settings  # noqa: E402
from tests.hypothesis_profiles import load as load_hypothesis_profile  # noqa: E402
from write_side.application import FleetApplication  # noqa: E402

# boto3 needs credentials and a region even for DynamoDB Local; never reach real AWS from tests.
if not os.environ.get("AWS_ACCESS_KEY_ID", "").isalnum():
    # DynamoDB Local rejects access key ids other than letters and digits.
    os.environ["AWS_ACCESS_KEY_ID"] = "fleetwatchtest"
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "fleetwatchtest")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
# Before any test module builds its `@settings`: ci, dev or nightly (tests/hypothesis_profiles.py).
load_hypothesis_profile(os.environ)


def _redis_test_url() -> str:
    return os.environ.get("FLEETWATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _mqtt_test_url() -> str:
    return os.environ.get("FLEETWATCH_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


def pytest_configure(config: pytest.Config) -> None:
    """The xdist controller starts the shared Redis and Mosquitto where none answers, and stops
    them after the workers; one it cannot start is left to the fixtures, which fail loudly."""
    workers = getattr(config.option, "numprocesses", None)
    if not workers or hasattr(config, "workerinput"):
        return  # a plain run, or a worker: the session fixtures below do it
    stack = contextlib.ExitStack()
    config.add_cleanup(stack.close)
    for service, url in ((REDIS, _redis_test_url()), (MOSQUITTO, _mqtt_test_url())):
        with contextlib.suppress(ServiceUnavailable, ValueError):
            stack.enter_context(running(service, url))


@pytest.fixture(scope="session")
def dynamodb_endpoint() -> Iterator[str]:
    """The URL of a DynamoDB Local started for this test session (in memory, the JVM of a
    short run: `QUICK_JVM`)."""
    url = os.environ.get("FLEETWATCH_TEST_DYNAMODB_URL")
    if url:
        yield url
        return
    with dynamodb_local(quick=True) as started:
        yield started


@pytest.fixture
def table_prefix() -> str:
    """A fresh table-name prefix, so tests never see each other's tables."""
    return f"t{uuid.uuid4().hex[:10]}_"


def _service(service: Service, url: str) -> Iterator[str]:
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(running(service, url))
        except (ServiceUnavailable, ValueError) as e:  # pragma: no cover - environment problem
            pytest.fail(f"{service.name} is required at {url} and is not there: {e}")
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """Redis (127.0.0.1:6379 db 15 by default), started for the session when none answers;
    fails (never skips) when it can not be."""
    yield from _service(REDIS, _redis_test_url())


@pytest.fixture(scope="session")
def mqtt_url() -> Iterator[str]:
    """Mosquitto (127.0.0.1:1883 by default), started for the session when none answers;
    fails (never skips) when it can not be."""
    yield from _service(MOSQUITTO, _mqtt_test_url())


@pytest.fixture(scope="session")
def chromium() -> str:
    """A real browser for the pages the system makes (a fleet report, docs/analytics.md 20.4):
    `FLEETWATCH_TEST_CHROMIUM`, else Debian's `chromium` (with a font), installed with apt-get
    when missing;
    fails (never skips) when it can not be."""
    path = os.environ.get("FLEETWATCH_TEST_CHROMIUM") or shutil.which("chromium")
    if path is None:
        try:
            apt_install(["chromium", "fonts-liberation"])  # fonts: only recommended
        except ServiceUnavailable as e:  # pragma: no cover - environment problem
            pytest.fail(f"Chromium is required and is not there: {e}")
        path = shutil.which("chromium")
    if path is None:  # pragma: no cover - environment problem
        pytest.fail("Chromium is required: apt-get installed it, but `chromium` is not on PATH")
    return path


@pytest.fixture(params=["sqlite", "dynamodb"])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings to run the same test on each store: a fresh SQLite file, or fresh DynamoDB
    tables (on the session's DynamoDB Local, which only the dynamodb case starts)."""
    if request.param == "sqlite":
        return Settings(store="sqlite", sqlite_path=tmp_path / "fleet.sqlite3")
    return Settings(
        store="dynamodb",
        dynamodb_endpoint_url=request.getfixturevalue("dynamodb_endpoint"),
        dynamodb_table_prefix=request.getfixturevalue("table_prefix"),
        analytics_dir=tmp_path / "analytics",  # the Parquet writer's, one per event store
    )


@pytest.fixture
def app(store_settings: Settings) -> Iterator[FleetApplication]:
    """The write-side application on `store_settings`' store, closed afterwards."""
    application = FleetApplication(env=application_env(store_settings))
    yield application
    application.close()
