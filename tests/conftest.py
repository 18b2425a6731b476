"""Shared fixtures: real components only (DynamoDB Local, Redis, Mosquitto), never mocks.

DynamoDB Local is started once per test session by `dynamodb_endpoint`. A missing component fails
the tests that need it; nothing here skips.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from dynamodb_local import dynamodb_local  # noqa: E402

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


@pytest.fixture(scope="session")
def dynamodb_endpoint() -> Iterator[str]:
    """The URL of a DynamoDB Local started for this test session (in memory)."""
    url = os.environ.get("FLEETWATCH_TEST_DYNAMODB_URL")
    if url:
        yield url
        return
    with dynamodb_local() as started:
        yield started


@pytest.fixture
def table_prefix() -> str:
    """A fresh table-name prefix, so tests never see each other's tables."""
    return f"t{uuid.uuid4().hex[:10]}_"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Redis on 127.0.0.1:6379; fails (never skips) when it is not running."""
    import redis

    url = os.environ.get("FLEETWATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.ConnectionError as e:  # pragma: no cover - environment problem
        pytest.fail(f"Redis is required at {url} and is not reachable: {e}")
    finally:
        client.close()
    return url


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
    )


@pytest.fixture
def app(store_settings: Settings) -> Iterator[FleetApplication]:
    """The write-side application on `store_settings`' store, closed afterwards."""
    application = FleetApplication(env=application_env(store_settings))
    yield application
    application.close()
