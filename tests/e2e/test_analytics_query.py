"""`POST /analytics/query` through the real app (SQLite, every worker running, the Parquet
writer flushing every 0.1 s): the rollups answer what they keep, DuckDB over the Parquet files
the rest, both alike; another tenant's devices are refused; budgets and bad fields are named."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fleetwatch.bootstrap import System
from fleetwatch.settings import Settings
from tests.e2e.conftest import TEST_SECRET, Tokens, new_tenant
from tests.e2e.test_rest_devices import auth, create, problem
from tests.e2e.test_telemetry_api import gql, record

T0 = datetime(2026, 3, 1, tzinfo=UTC)
QUERY = """
query Analytics($input: AnalyticsQueryInput!) {
  analyticsQuery(input: $input) { source series { deviceId metric points { start values } } }
}"""


@pytest.fixture
def api_settings(tmp_path: Path) -> Settings:
    return Settings(
        store="sqlite", sqlite_path=tmp_path / "fleet.sqlite3", jwt_secret=TEST_SECRET,
        jwks_url=None, jwt_issuer=None, jwt_audience=None, redis_url=None,
        analytics_flush_seconds=0.1,
    )  # fmt: skip


def ask(client: TestClient, token: str, **body: Any) -> Any:
    end = (T0 + timedelta(hours=3)).isoformat()
    given = {"metrics": ["temp"], "from": T0.isoformat(), "to": end,
             "bucket": "hour", "aggregations": ["min", "max", "avg", "count"]} | body  # fmt: skip
    return client.post("/analytics/query", json=given, headers=auth(token))


def answered(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def shown(answer: dict[str, Any]) -> list[Any]:
    """The series, their points' times parsed (REST writes `Z`, GraphQL `+00:00`)."""
    return [
        (s["deviceId"], s["metric"],
         [(datetime.fromisoformat(p["start"]), p["values"]) for p in s["points"]])
        for s in answer["series"]
    ]  # fmt: skip


def columns_shown(answer: dict[str, Any]) -> list[Any]:
    """The series of the columns layout, as `shown` gives the points layout's."""
    for s in answer["series"]:
        assert s["points"] is None
        assert all(len(column) == len(s["starts"]) for column in s["columns"].values())
    return [
        (s["deviceId"], s["metric"],
         [(datetime.fromisoformat(start), {name: col[i] for name, col in s["columns"].items()})
          for i, start in enumerate(s["starts"])])
        for s in answer["series"]
    ]  # fmt: skip


def test_query_over_rollups_and_parquet_tenant_scoped_and_budgeted(
    api_client: TestClient, api_system: System, tokens: Tokens
) -> None:
    tenant = new_tenant()
    token = tokens(tenant, "viewer")
    operator = tokens(tenant, "operator")
    north = [create(api_client, operator, tags=["north"])["id"] for _ in range(2)]
    for n, device in enumerate(north):
        messages = [
            (f"m{i}", T0 + timedelta(minutes=20 * i), {"temp": 10.0 * n + i}) for i in range(9)
        ]
        position = record(api_system, tenant, device, messages)
    deadline = time.monotonic() + 10
    while api_system.workers["parquet"].checkpoint() < position:
        assert time.monotonic() < deadline, "the Parquet writer did not flush"
        time.sleep(0.05)

    by_rollups = answered(ask(api_client, token, deviceIds=north))
    assert by_rollups["source"] == "rollups"
    first = next(s for s in by_rollups["series"] if s["deviceId"] == north[0])
    assert [p["values"] for p in first["points"]] == [
        {"min": 0.0, "max": 2.0, "avg": 1.0, "count": 3},
        {"min": 3.0, "max": 5.0, "avg": 4.0, "count": 3},
        {"min": 6.0, "max": 8.0, "avg": 7.0, "count": 3},
    ]
    over_graphql = gql(api_client, token, QUERY, input={
        "deviceIds": north, "metrics": ["temp"], "from": T0.isoformat(),
        "to": (T0 + timedelta(hours=3)).isoformat(), "bucket": "HOUR",
        "aggregations": ["MIN", "MAX", "AVG", "COUNT"]})  # fmt: skip
    assert over_graphql["data"]["analyticsQuery"]["source"] == "ROLLUPS"
    assert shown(over_graphql["data"]["analyticsQuery"]) == shown(by_rollups)
    refused = gql(
        api_client,
        token,
        QUERY,
        input={"metrics": ["temp"], "from": T0.isoformat(), "to": T0.isoformat(), "bucket": "DAY"},
    )
    assert refused["errors"][0]["extensions"]["field"] == "to"
    in_columns = answered(ask(api_client, token, deviceIds=north, layout="columns"))
    assert in_columns["source"] == "rollups"
    assert columns_shown(in_columns) == shown(by_rollups)
    by_parquet = answered(ask(api_client, token, deviceIds=north,
                              aggregations=["min", "max", "avg", "count", "p50"]))  # fmt: skip
    assert by_parquet["source"] == "parquet"
    for s in by_parquet["series"]:
        for p in s["points"]:
            assert p["values"].pop("p50") == p["values"]["avg"]  # evenly spaced values
    assert sorted(by_parquet["series"], key=str) == sorted(by_rollups["series"], key=str)
    parquet_columns = answered(ask(api_client, token, deviceIds=north, layout="columns",
                                   aggregations=["min", "max", "avg", "count", "p50"]))  # fmt: skip
    assert parquet_columns["source"] == "parquet"
    for s in parquet_columns["series"]:
        assert s["columns"].pop("p50") == s["columns"]["avg"]  # evenly spaced values
    assert sorted(columns_shown(parquet_columns)) == sorted(shown(by_rollups))
    columns_query = QUERY.replace("points { start values }", "starts columns points { start }")
    over_graphql = gql(api_client, token, columns_query, input={
        "deviceIds": north, "metrics": ["temp"], "from": T0.isoformat(),
        "to": (T0 + timedelta(hours=3)).isoformat(), "bucket": "HOUR", "layout": "COLUMNS",
        "aggregations": ["MIN", "MAX", "AVG", "COUNT", "P50"]})  # fmt: skip
    graphql_columns = over_graphql["data"]["analyticsQuery"]
    assert graphql_columns["source"] == "PARQUET"
    for s in graphql_columns["series"]:
        s["columns"].pop("p50")
    assert sorted(columns_shown(graphql_columns)) == sorted(shown(by_rollups))

    fleet = answered(ask(api_client, token, deviceIds=[], groupBy="fleet", bucket="day",
                         aggregations=["count", "max", "p99"]))  # fmt: skip
    assert fleet["source"] == "parquet"
    assert [
        (s["deviceId"], [p["values"]["count"] for p in s["points"]]) for s in fleet["series"]
    ] == [(None, [18])]
    fleet_columns = answered(ask(api_client, token, deviceIds=[], groupBy="fleet", bucket="day",
                                 aggregations=["count", "max", "p99"],
                                 layout="columns"))  # fmt: skip
    assert fleet_columns["source"] == "parquet"
    assert columns_shown(fleet_columns) == shown(fleet)
    tagged = answered(ask(api_client, token, tag="north", groupBy="fleet", bucket="day"))
    assert tagged["source"] == "rollups"
    assert tagged["series"][0]["points"][0]["values"]["count"] == 18

    other = tokens(new_tenant(), "admin")
    assert problem(ask(api_client, other, deviceIds=north[:1]), 404)["code"] == "NOT_FOUND"
    empty = answered(ask(api_client, other, deviceIds=[], groupBy="fleet"))
    assert empty["series"] == []

    too_long = problem(ask(api_client, token, deviceIds=north, bucket="minute",
                           to=(T0 + timedelta(days=8)).isoformat()), 422)  # fmt: skip
    assert too_long["field"] == "to"
    assert "max_range" in too_long["message"]
    assert problem(ask(api_client, token, aggregations=["p42"]), 422)["field"] == "aggregations"
    assert problem(ask(api_client, token, deviceIds=[]), 422)["field"] == "groupBy"
    assert problem(ask(api_client, token, deviceIds=north, layout="rows"), 422)["field"] == "layout"
