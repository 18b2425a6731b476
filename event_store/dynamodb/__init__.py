"""DynamoDB persistence module for the `eventsourcing` library (boto3 only).

Select it with ``PERSISTENCE_MODULE=event_store.dynamodb``; environment keys are documented
on :class:`DynamoDBFactory`.

Tables (``{prefix}`` is ``DYNAMODB_TABLE_PREFIX``, default ``fleetwatch_``; on-demand billing):

- ``{prefix}events``: ``pk`` (S, hash) + ``sk`` (N, range); streams and the feed.
- ``{prefix}snapshots``: same schema; the snapshot streams (aggregate recorder "snapshots").
- ``{prefix}tracking``: ``pk`` (S, hash) only; one item per upstream application.

Items (``{ns}`` is ``{namespace}#``, the namespace defaulting to the application name; empty
namespace: no prefix). All numbers are attributes of type N, event payloads type B:

=================  ====================  ==========  =======================================
item               pk                    sk          attributes
=================  ====================  ==========  =======================================
feed head          ``{ns}head``          0           ``n``: last notification id assigned
stream head        ``{ns}v#{id}``        0           ``v``: last version of the stream
stream commit      ``{ns}s#{id}``        last vers.  ``a``: first version, ``b``: events,
                                                     ``n0``: feed head before the commit,
                                                     ``c``: the writing run's commit id
feed commit        ``{ns}f#{bucket}``    last id     ``a``: first notification id, ``b``
tracking           ``{ns}t#{app}``       (none)      ``n``: last notification id processed
=================  ====================  ==========  =======================================

``{id}`` is the originator id as text; ``bucket`` is ``notification id // 100,000``. ``b``
holds the commit's events in a compact binary form (see :mod:`.codec`), zlib-compressed when
that pays; an event's notification id in a stream commit is ``n0 + 1 + offset``.

Writing: every ``insert_events`` call is ONE ``TransactWriteItems``: (1) the feed head, on
condition ``n = :expected`` (or not exists), set to ``expected + len(events)``; (2) the
process recorder's tracking update, if any; (3) per stream, its head, on condition
``attribute_not_exists(v) OR v < :first`` (the call's lowest version of the stream), set to the
call's highest; (4) the stream's commit items; (5) the feed commit items. Commit items are split
at ~350 KB, and feed items also at bucket boundaries, so each item lies in one bucket. The
feed head's condition serialises commits: notification ids are contiguous, never interleave
between calls, and a feed item commits atomically with the head. A failed feed-head condition
(another writer won) is retried for the new head, with jittered backoff; any other failed
condition raises ``IntegrityError`` at once, with nothing written. Concurrent calls in one
process do not contend with each other: they queue, and the calls queued while a transaction
is in flight are committed together in the next one (group commit, see :mod:`.group`; each
call still gets contiguous ids and all-or-nothing). The process remembers the head, so a commit
needs no read first. Throttling, transaction conflicts and errors of unknown outcome are
retried (bounded in attempts and time, jittered; see :mod:`.transact`), then raise
``OperationalError``. The reported outcome is the true one: after an attempt whose answer was
lost, a failed condition or the end of the retries is resolved by reading back whether the
run's commit (its commit id ``c``) is stored (see :mod:`.outcome`).

Consequences and limits:

- Versions of a stream must increase from call to call (inserting a version lower than the
  stream's last one is an ``IntegrityError``, even if that version was never used).
- One call fits one transaction: at most 100 actions (so about 48 streams, fewer for big
  commits) and about 4 MB, counting each event twice (stream + feed). A call over a limit
  raises :class:`TransactionLimitError` (a ``ProgrammingError``) and writes nothing.
- Readers use strongly consistent Queries; ``select_notifications`` stops at the first missing
  id, so it never returns id N+1 before N is visible.
- Subscriptions (and idle projection workers) do not poll on their own: one poller per process
  and feed reads the head (20-200 ms, adaptively) while anybody listens and wakes them all when
  it moves, as do commits made by the same process (:mod:`.poller`). A reader reads the feed
  only while the known head is above its position, and keeps reading while it is (it can see
  the head before the feed item of the same commit). Idle, a process reads the head ~5 times a
  second (5 RCU/s) however many readers it has.
- Commits to one feed are serialised by its head: one transaction per round trip for all
  processes together (group commit packs one process's concurrent calls into it; writers in
  several processes retry against each other).
- The tracking table holds one item per (namespace, upstream application): the last id
  processed. Read models can commit their own actions with it (``write_with_tracking``).
"""

from event_store.dynamodb.datastore import DynamoDBDatastore
from event_store.dynamodb.errors import (
    MAX_STREAMS_PER_CALL,
    MAX_TRANSACTION_BYTES,
    TransactionLimitError,
)
from event_store.dynamodb.factory import DynamoDBFactory, create_tables, delete_tables
from event_store.dynamodb.recorders import (
    DynamoDBAggregateRecorder,
    DynamoDBApplicationRecorder,
    DynamoDBProcessRecorder,
)
from event_store.dynamodb.subscription import DynamoDBSubscription
from event_store.dynamodb.tracking_recorder import DynamoDBTrackingRecorder
from event_store.dynamodb.transact import RetryPolicy

Factory = DynamoDBFactory

__all__ = [
    "MAX_STREAMS_PER_CALL",
    "MAX_TRANSACTION_BYTES",
    "DynamoDBAggregateRecorder",
    "DynamoDBApplicationRecorder",
    "DynamoDBDatastore",
    "DynamoDBFactory",
    "DynamoDBProcessRecorder",
    "DynamoDBSubscription",
    "DynamoDBTrackingRecorder",
    "Factory",
    "RetryPolicy",
    "TransactionLimitError",
    "create_tables",
    "delete_tables",
]
