"""The round trip to DynamoDB, modelled on DynamoDB Local for the benches that measure against it
(`feed_latency.py`, `kinesis_batch.py`; docs/event-store.md 6.5): every request a client sends
is delayed by `latency` seconds at the boto3 boundary (botocore's `before-send` event: the
request then goes to DynamoDB Local as it is), and counted, the transactions apart. And the
DynamoDB Local those benches and `write_cost.py` run on (`local_dynamodb`)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from dynamodb_local import dynamodb_local

from fleetwatch.settings import Settings


class RoundTrip:
    """Delays every DynamoDB request of `client` by `latency` seconds; counts the requests
    (`count`) and the TransactWriteItems among them (`transactions`)."""

    def __init__(self, client: Any) -> None:
        self.latency = 0.0
        self.count = 0
        self.transactions = 0
        self._lock = threading.Lock()
        client.meta.events.register("before-send.dynamodb", self._before_send)
        client.meta.events.register("before-call.dynamodb.TransactWriteItems", self._transact)

    def reset(self, latency_ms: float) -> None:
        """Counts from zero, each request delayed by `latency_ms` from now on."""
        with self._lock:
            self.latency, self.count, self.transactions = latency_ms / 1000, 0, 0

    def _before_send(self, **_: Any) -> None:
        with self._lock:
            self.count += 1
        if self.latency:
            time.sleep(self.latency)

    def _transact(self, **_: Any) -> None:
        with self._lock:
            self.transactions += 1


@contextlib.contextmanager
def local_dynamodb(**settings: Any) -> Iterator[Settings]:
    """Settings on a DynamoDB Local started for the run (`scripts/dynamodb_local.py`), its tables
    under a fresh prefix; `settings`: more of them (`run_projections=False`)."""
    with dynamodb_local() as url:
        yield Settings(
            store="dynamodb",
            dynamodb_endpoint_url=url,
            dynamodb_table_prefix=f"b{uuid.uuid4().hex[:6]}_",
            **settings,
        )
