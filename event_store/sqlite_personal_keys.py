"""The subjects' data keys (`event_store.personal_data`) in a SQLite file of their own.

Beside the event store's file, named `<stem>-keys<suffix>` (or `SQLITE_KEYS_DBNAME`), never
inside it: a copy of the events is not a copy of the keys. `PRAGMA secure_delete` overwrites a
destroyed key's bytes in the file (a deleted row's page is otherwise kept until reused). An
in-memory event store keeps its keys in its own datastore (gone with it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from uuid import UUID

from eventsourcing.sqlite import SQLiteDatastore

from event_store.personal_data import new_key, new_key_id
from event_store.sqlite_files import use_pool

TABLE = "personal_keys"
CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (subject TEXT NOT NULL, key_id TEXT NOT NULL, "
    "key BLOB NOT NULL, PRIMARY KEY (subject, key_id)) WITHOUT ROWID"
)
KEYS_DBNAME = "SQLITE_KEYS_DBNAME"


def keys_db_name(events_db_name: str) -> str | None:
    """The keys file beside an event store file; None for an in-memory store."""
    if ":memory:" in events_db_name or events_db_name.startswith("file:"):
        return None
    path = Path(events_db_name)
    return str(path.with_name(f"{path.stem}-keys{path.suffix}"))


class SQLitePersonalKeys:
    def __init__(self, datastore: SQLiteDatastore, *, create_table: bool = True) -> None:
        self.datastore = datastore
        if create_table:
            with self.datastore.transaction(commit=True) as c:
                c.execute(CREATE)

    @classmethod
    def beside(
        cls, events: SQLiteDatastore, db_name: str | None, create_table: bool
    ) -> SQLitePersonalKeys:
        """The keys of the event store `events`: in the file `db_name`, by default the one
        beside its file (`keys_db_name`), or in `events` itself when it is in memory."""
        db_name = db_name or keys_db_name(events.pool.db_name)
        if db_name is None:
            return cls(events, create_table=create_table)
        datastore = SQLiteDatastore(db_name)
        use_pool(datastore, ("PRAGMA secure_delete = ON",))
        return cls(datastore, create_table=create_table)

    def writing_key(
        self, subject: UUID, make: Callable[[], bytes] | None = None
    ) -> tuple[str, bytes]:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"SELECT key_id, key FROM {TABLE} WHERE subject = ? LIMIT 1",  # noqa: S608
                (subject.hex,),
            )
            row = c.fetchone()
            if row is not None:
                return str(row[0]), bytes(row[1])
            key_id, key = new_key_id(subject), (make or new_key)()
            c.execute(
                f"INSERT INTO {TABLE} (subject, key_id, key) VALUES (?, ?, ?)",  # noqa: S608
                (subject.hex, key_id, key),
            )
            return key_id, key

    def key(self, key_id: str) -> bytes | None:
        subject = key_id.split(".", 1)[0]
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT key FROM {TABLE} WHERE subject = ? AND key_id = ?",  # noqa: S608
                (subject, key_id),
            )
            row = c.fetchone()
        return None if row is None else bytes(row[0])

    def destroy(self, subject: UUID) -> int:
        """Delete the subject's keys; then copy the write-ahead log back into the file and
        empty it (best effort: a reader in another process may hold it a while), since the
        log holds the pages as they were."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM {TABLE} WHERE subject = ?", (subject.hex,))  # noqa: S608
            destroyed = int(c.sqlite_cursor.rowcount)
        if destroyed and not self.datastore.pool.is_sqlite_memory_mode:
            with self.datastore.get_connection(commit=False) as connection:
                connection.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return destroyed

    def close(self) -> None:
        self.datastore.close()
