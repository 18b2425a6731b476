"""The store-neutral error for "this tracking position was recorded before".

A projection worker must tell apart two failures of a commit that carries a checkpoint: the
checkpoint did not advance (another worker, or this one before a restart, already applied the
notifications: skip them), and anything else that stopped the commit, such as a row's own
condition (nothing was applied: resume from the checkpoint and try again). Both stores raise
`AlreadyTracked` for the first only; any other `IntegrityError` means the second.
"""

from __future__ import annotations

from eventsourcing.persistence import IntegrityError


class AlreadyTracked(IntegrityError):
    """The tracking id did not advance past the recorded one: the position was applied."""
