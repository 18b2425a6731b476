"""What every DynamoDB recorder of one factory shares, and the recorders' common base.

Apart from `.recorders` so that the tracking recorder (`.tracking_recorder`) and the event
recorders can both build on it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import Recorder

from event_store.dynamodb.client import DynamoDBClient
from event_store.dynamodb.keys import Keys
from event_store.dynamodb.tables import ensure_tables
from event_store.dynamodb.transact import RetryPolicy


@dataclass
class DynamoDBDatastore:
    """What every recorder of one factory shares: the client, table prefix and namespace."""

    client: DynamoDBClient
    table_prefix: str
    namespace: str = ""
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)

    def table_name(self, suffix: str) -> str:
        return f"{self.table_prefix}{suffix}"


class DynamoDBRecorder(Recorder):
    def __init__(self, datastore: DynamoDBDatastore, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.datastore = datastore
        self.client: DynamoDBClient = datastore.client
        self.table_prefix: str = datastore.table_prefix
        self.keys = Keys(datastore.namespace)

    def construct_tables(self) -> list[dict[str, Any]]:
        """CreateTable kwargs of every table this recorder needs."""
        return []

    def create_table(self) -> None:
        """Create this recorder's tables unless they exist (waits until they are ACTIVE)."""
        ensure_tables(self.client, self.construct_tables())
