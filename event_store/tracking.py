"""The store-neutral error for "this tracking position was recorded before", and forgetting
a consumer's recorded position (`delete_tracking`, to rebuild from the start).

A projection worker must tell apart two failures of a commit that carries a checkpoint: the
checkpoint did not advance (another worker, or this one before a restart, already applied the
notifications: skip them), and anything else that stopped the commit, such as a row's own
condition (nothing was applied: resume from the checkpoint and try again). Both stores raise
`AlreadyTracked` for the first only; any other `IntegrityError` means the second.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import IntegrityError


class AlreadyTracked(IntegrityError):
    """The tracking id did not advance past the recorded one: the position was applied."""


def delete_tracking(recorder: Any, application_name: str) -> None:
    """Forget the positions `recorder` holds for `application_name` (a rebuild starts again
    from zero): the DynamoDB recorder's own `delete_tracking`, else the library's SQLite
    `tracking` table. Not atomic with anything else."""
    delete = getattr(recorder, "delete_tracking", None)
    if delete is not None:  # DynamoDB
        delete(application_name)
        return
    datastore = recorder.datastore
    with datastore.transaction(commit=True) as c:
        c.execute("DELETE FROM tracking WHERE application_name = ?", (application_name,))
