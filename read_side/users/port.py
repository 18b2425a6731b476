"""The users model's ports: the queries `me` and the notifier ask (`UsersReader`) and the
writes the projection commits through (`UsersView`), beside the adapters that implement both
on one table per store (issue 11)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import Tracking

from read_side.users.row import UserRow

__all__ = ["UsersReader", "UsersView"]


class UsersReader(ABC):
    @abstractmethod
    def get(self, tenant_id: str, user_id: UUID) -> UserRow | None: ...

    @abstractmethod
    def tenant_users(self, tenant_id: str) -> list[UserRow]:
        """Every user of the tenant (ordered by user id)."""


class UsersView(ABC):
    """Port for the projection's writes: rows and checkpoint commit together."""

    @abstractmethod
    def save_many(self, rows: Sequence[UserRow], tracking: Tracking) -> None:
        """Upsert the rows and record `tracking` (a seen tracking id: IntegrityError). When
        the rows need several transactions the checkpoint rides on the last one."""

    @abstractmethod
    def max_tracking_id(self, application_name: str) -> int | None: ...

    @abstractmethod
    def reset(self, application_name: str) -> None:
        """Delete every row and the checkpoint, for a rebuild from position zero."""
