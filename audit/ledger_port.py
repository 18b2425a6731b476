"""The ledger's rows and the port its stores implement (docs/audit.md section 19.4).

Per event a `LedgerEntry` (its tenant's log index, feed position, stream, version, hash); per
stream its last ledgered version and hash (the chain's head); per tenant its log's size,
frontier and position, and when it was last checkpointed; the signed checkpoints. A commit
writes them with the ledger's tracking position in one transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from eventsourcing.persistence import Tracking

from audit.checkpoints import Checkpoint


@dataclass(frozen=True)
class LedgerEntry:
    tenant_id: str
    log_index: int
    position: int
    stream_id: str
    version: int
    hash: bytes


@dataclass(frozen=True)
class StreamHead:
    stream_id: str
    version: int
    hash: bytes


@dataclass(frozen=True)
class TenantHead:
    tenant_id: str
    size: int = 0
    frontier: tuple[bytes, ...] = ()
    position: int = 0  # the feed position of the log's last leaf
    checkpointed_at: datetime | None = None


@dataclass
class LedgerCommit:
    entries: list[LedgerEntry] = field(default_factory=list)
    streams: list[StreamHead] = field(default_factory=list)
    tenants: list[TenantHead] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)


class LedgerStore(ABC):
    # Most items one commit may write (None: any number); DynamoDB: one transaction's worth.
    max_actions: int | None = None

    @abstractmethod
    def stream_heads(self, stream_ids: Collection[str]) -> dict[str, StreamHead]: ...

    @abstractmethod
    def tenant_heads(self, tenant_ids: Collection[str] | None = None) -> dict[str, TenantHead]:
        """The heads of these tenants (None: of every tenant)."""

    @abstractmethod
    def commit(self, commit: LedgerCommit, tracking: Tracking | None) -> None:
        """Write everything in one transaction, with `tracking` when given (a position already
        tracked: `AlreadyTracked`, nothing written)."""

    @abstractmethod
    def entries(self, tenant_id: str) -> list[LedgerEntry]:
        """The tenant's log, by log index."""

    @abstractmethod
    def checkpoints(self, tenant_id: str) -> list[Checkpoint]:
        """The tenant's signed checkpoints, by tree size."""

    @abstractmethod
    def max_tracking_id(self, application_name: str) -> int | None: ...
