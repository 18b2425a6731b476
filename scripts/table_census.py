"""Every DynamoDB table the system makes, as the CDK app deploys them (infra/tables.json).

The tables are not declared in one place: each adapter creates its own when it opens (the
event store's, each read model's, the ledger's, the OTA schedule's, ...). So the list is taken
from what the code really does: a whole system is built on a DynamoDB Local with a fresh table
prefix and started (every worker opens its tables), then each table with that prefix is
described: its name without the prefix, key schema, attribute definitions and global secondary
indexes. `tests/integration/test_infra_tables.py` runs the census and fails when the file
differs, so a table added to the code and not to the app (or the other way) is caught.

    .venv/bin/python scripts/table_census.py http://127.0.0.1:8000 > infra/tables.json
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

import boto3

from fleetwatch.bootstrap import build_system
from fleetwatch.settings import Settings
from fleetwatch.wiring import make_tables_made_on_first_use


def census(endpoint_url: str, region: str = "us-east-1") -> list[dict[str, Any]]:
    """The tables a started system made on `endpoint_url`, sorted by name (prefix removed)."""
    prefix = f"census{uuid.uuid4().hex[:8]}_"
    settings = Settings(
        store="dynamodb",
        dynamodb_endpoint_url=endpoint_url,
        dynamodb_region=region,
        dynamodb_table_prefix=prefix,
        create_tables=True,
    )
    system = build_system(settings)
    system.start()
    make_tables_made_on_first_use(system.app, settings)
    system.close()
    client = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=region)
    names: list[str] = []
    for page in client.get_paginator("list_tables").paginate():
        names += [n for n in page["TableNames"] if n.startswith(prefix)]
    tables = [_described(client, name, prefix) for name in sorted(names)]
    for name in names:
        client.delete_table(TableName=name)
    return tables


def _described(client: Any, name: str, prefix: str) -> dict[str, Any]:
    table = client.describe_table(TableName=name)["Table"]
    indexes = [
        {
            "IndexName": index["IndexName"],
            "KeySchema": index["KeySchema"],
            "Projection": index["Projection"],
        }
        for index in sorted(table.get("GlobalSecondaryIndexes", []), key=lambda i: i["IndexName"])
    ]
    described: dict[str, Any] = {
        "TableName": name.removeprefix(prefix),
        "KeySchema": table["KeySchema"],
        "AttributeDefinitions": sorted(
            table["AttributeDefinitions"], key=lambda a: a["AttributeName"]
        ),
    }
    if indexes:
        described["GlobalSecondaryIndexes"] = indexes
    return described


def main() -> None:
    endpoint = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"
    print(json.dumps(census(endpoint), indent=1))


if __name__ == "__main__":
    main()
