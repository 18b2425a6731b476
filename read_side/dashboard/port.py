"""The dashboard model's ports: what the projection reads back (the per-device and per-alert
rows, the noisy counts and top-N lists it updates) and the dashboard query (`DashboardReader`),
and the commits it makes (`DashboardView`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from read_side.dashboard.keys import KeyRange, read_ranges
from read_side.dashboard.row import AlertFacts, DashboardCommit, DeviceFacts, Top
from read_side.dashboard.summary import Dashboard, summarize

__all__ = ["CheckpointMoved", "DashboardReader", "DashboardView"]


class CheckpointMoved(RuntimeError):
    """The checkpoint is not where the commit continues from (another worker moved it): nothing
    was written; the worker must resume from the checkpoint (never skip the batch)."""


class DashboardReader(ABC):
    @abstractmethod
    def devices(self, tenant_id: str, device_ids: Sequence[UUID]) -> dict[UUID, DeviceFacts]: ...

    @abstractmethod
    def alerts(self, tenant_id: str, alert_ids: Sequence[UUID]) -> dict[UUID, AlertFacts]: ...

    @abstractmethod
    def counts(self, tenant_id: str, keys: Sequence[str]) -> dict[str, float]:
        """The figures under `keys` (absent ones are left out)."""

    @abstractmethod
    def tops(self, tenant_id: str, keys: Sequence[str]) -> dict[str, Top]: ...

    @abstractmethod
    def ranges(
        self, tenant_id: str, ranges: Sequence[KeyRange]
    ) -> tuple[dict[str, float], dict[str, Top]]:
        """Every figure and top-N list whose key lies in one of the (inclusive) ranges: one
        indexed range read (SQLite) or Query (DynamoDB) per range."""

    def dashboard(self, tenant_id: str, now: datetime) -> Dashboard:
        """The tenant's dashboard at `now`: a bounded read, whatever the number of devices."""
        figures, tops = self.ranges(tenant_id, list(read_ranges(now).values()))
        return summarize(tenant_id, now, figures, tops)


class DashboardView(ABC):
    # The most writes one commit may carry (None: any number in one transaction).
    max_writes: int | None = None

    @abstractmethod
    def commit(self, commit: DashboardCommit) -> None:
        """Write the rows, add the deltas, replace the top-N lists and move the checkpoint from
        `commit.after` to `commit.tracking`, all in one transaction. AlreadyTracked when the
        checkpoint already covers the commit; CheckpointMoved (nothing written) when it is
        anywhere else than `after`."""

    @abstractmethod
    def max_tracking_id(self, application_name: str) -> int | None: ...

    @abstractmethod
    def reset(self, application_name: str) -> None:
        """Delete every row and figure and the checkpoint, for a rebuild from position zero."""
