"""The infrastructure factory (``PERSISTENCE_MODULE=event_store.dynamodb``) and table helpers."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
)
from eventsourcing.utils import Environment, EnvType, resolve_topic, strtobool

from event_store.dynamodb.client import DynamoDBClient, create_client, endpoint_of
from event_store.dynamodb.datastore import DynamoDBDatastore
from event_store.dynamodb.local import forget_table
from event_store.dynamodb.personal_keys import PURPOSE as KEYS_PURPOSE
from event_store.dynamodb.personal_keys import DynamoDBPersonalKeys, personal_keys_table_spec
from event_store.dynamodb.recorders import (
    DynamoDBAggregateRecorder,
    DynamoDBApplicationRecorder,
    DynamoDBProcessRecorder,
)
from event_store.dynamodb.tables import (
    delete_table,
    ensure_tables,
    events_table_spec,
    tracking_table_spec,
)
from event_store.dynamodb.tracking_recorder import DynamoDBTrackingRecorder
from event_store.kms_keys import KMS_KEY, wrapped_if_configured
from event_store.personal_data import PersonalKeys

DEFAULT_TABLE_PREFIX = "fleetwatch_"
DEFAULT_REGION = "us-east-1"
STANDARD_PURPOSES = ("events", "snapshots")

_TABLE_PREFIX_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{0,200}$")


class DynamoDBFactory(InfrastructureFactory[DynamoDBTrackingRecorder]):
    """Constructs the DynamoDB recorders; all of them share this factory's one boto3 client.

    Environment keys (each may also be prefixed by the application name, e.g.
    ``FLEET_DYNAMODB_TABLE_PREFIX``):

    - ``DYNAMODB_ENDPOINT_URL``: optional (e.g. ``http://127.0.0.1:8000`` for DynamoDB Local);
    - ``DYNAMODB_REGION``: default ``AWS_DEFAULT_REGION``, else ``us-east-1``;
    - ``DYNAMODB_TABLE_PREFIX``: default ``fleetwatch_``;
    - ``DYNAMODB_NAMESPACE``: key namespace inside the tables; default the application name
      (so applications sharing a prefix never share streams, feed or tracking rows);
    - ``CREATE_TABLE``: default yes: create missing tables (waiting until ACTIVE).
    """

    DYNAMODB_ENDPOINT_URL = "DYNAMODB_ENDPOINT_URL"
    DYNAMODB_REGION = "DYNAMODB_REGION"
    DYNAMODB_TABLE_PREFIX = "DYNAMODB_TABLE_PREFIX"
    DYNAMODB_NAMESPACE = "DYNAMODB_NAMESPACE"
    CREATE_TABLE = "CREATE_TABLE"

    aggregate_recorder_class = DynamoDBAggregateRecorder
    application_recorder_class = DynamoDBApplicationRecorder
    tracking_recorder_class = DynamoDBTrackingRecorder
    process_recorder_class = DynamoDBProcessRecorder

    def __init__(self, env: Environment | EnvType | None):
        super().__init__(env)
        endpoint_url = self.env.get(self.DYNAMODB_ENDPOINT_URL) or None
        region = (
            self.env.get(self.DYNAMODB_REGION)
            or self.env.get("AWS_DEFAULT_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or DEFAULT_REGION
        )
        table_prefix = self.env.get(self.DYNAMODB_TABLE_PREFIX, DEFAULT_TABLE_PREFIX)
        if not _TABLE_PREFIX_PATTERN.match(table_prefix):
            msg = (
                f"Invalid {self.DYNAMODB_TABLE_PREFIX} {table_prefix!r}: "
                "use letters, digits, '_', '-' and '.' only"
            )
            raise OSError(msg)
        namespace = self.env.get(self.DYNAMODB_NAMESPACE, self.env.name)
        self.client: DynamoDBClient = create_client(endpoint_url, region)
        self.table_prefix: str = table_prefix
        self.datastore = DynamoDBDatastore(
            client=self.client, table_prefix=table_prefix, namespace=namespace
        )
        self._keys: PersonalKeys | None = None

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        recorder = self.aggregate_recorder_class(
            datastore=self.datastore,
            events_table_name=self.datastore.table_name(purpose),
        )
        if self.env_create_table():
            recorder.create_table()
        return recorder

    def application_recorder(self) -> ApplicationRecorder:
        topic = self.env.get(self.APPLICATION_RECORDER_TOPIC)
        cls: type[DynamoDBApplicationRecorder] = (
            resolve_topic(topic) if topic else self.application_recorder_class
        )
        assert issubclass(cls, DynamoDBApplicationRecorder), cls
        recorder = cls(datastore=self.datastore)
        if self.env_create_table():
            recorder.create_table()
        return recorder

    def tracking_recorder(
        self, tracking_recorder_class: type[DynamoDBTrackingRecorder] | None = None
    ) -> DynamoDBTrackingRecorder:
        cls = tracking_recorder_class
        if cls is None:
            topic = self.env.get(self.TRACKING_RECORDER_TOPIC)
            cls = resolve_topic(topic) if topic else self.tracking_recorder_class
        assert cls is not None
        assert issubclass(cls, DynamoDBTrackingRecorder), cls
        recorder = cls(datastore=self.datastore)
        if self.env_create_table():
            recorder.create_table()
        return recorder

    def process_recorder(self) -> ProcessRecorder:
        topic = self.env.get(self.PROCESS_RECORDER_TOPIC)
        cls: type[DynamoDBProcessRecorder] = (
            resolve_topic(topic) if topic else self.process_recorder_class
        )
        assert issubclass(cls, DynamoDBProcessRecorder), cls
        recorder = cls(datastore=self.datastore)
        if self.env_create_table():
            recorder.create_table()
        return recorder

    def personal_keys(self) -> PersonalKeys:
        """The subjects' data keys (`event_store.dynamodb.personal_keys`), in their own table;
        wrapped by KMS when `PERSONAL_KEYS_KMS_KEY` is set (`event_store.kms_keys`)."""
        if self._keys is None:
            stored = DynamoDBPersonalKeys(self.datastore, create_table=self.env_create_table())
            self._keys = wrapped_if_configured(stored, self.env.get(KMS_KEY))
        return self._keys

    def env_create_table(self) -> bool:
        default = "yes"
        return bool(strtobool(self.env.get(self.CREATE_TABLE, default) or default))

    def standard_table_names(self) -> list[str]:
        """The tables the standard recorders use: events, snapshots, tracking, and the
        personal data keys."""
        purposes = (*STANDARD_PURPOSES, "tracking", KEYS_PURPOSE)
        return [self.datastore.table_name(p) for p in purposes]

    def create_tables(self) -> list[str]:
        """Create the standard tables unless they exist; wait until ACTIVE; return names."""
        names = self.standard_table_names()
        specs = [events_table_spec(name) for name in names[:-2]]
        specs.append(tracking_table_spec(names[-2]))
        specs.append(personal_keys_table_spec(names[-1]))
        ensure_tables(self.client, specs)
        return names

    def delete_tables(self) -> list[str]:
        """Delete the standard tables that exist; return the names of those deleted."""
        deleted = []
        for name in self.standard_table_names():
            forget_table(endpoint_of(self.client), name)
            if delete_table(self.client, name):
                deleted.append(name)
        return deleted

    def close(self) -> None:
        self.client.close()


def _environment(env: Environment | EnvType | None) -> Environment:
    if isinstance(env, Environment):
        return env
    merged: dict[str, str] = dict(os.environ)
    merged.update(env or {})
    return Environment(env=merged)


def create_tables(env: Environment | Mapping[str, str] | None = None) -> list[str]:
    """Create the standard tables for the given (default: process) environment.

    For a CLI such as ``fleetwatch dynamodb create-tables``. Returns the table names.
    """
    factory = DynamoDBFactory(_environment(env))
    try:
        return factory.create_tables()
    finally:
        factory.close()


def delete_tables(env: Environment | Mapping[str, str] | None = None) -> list[str]:
    """Delete the standard tables for the given (default: process) environment."""
    factory = DynamoDBFactory(_environment(env))
    try:
        return factory.delete_tables()
    finally:
        factory.close()
