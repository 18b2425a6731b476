"""Primary keys of the items this module writes (see the package docstring for the layout)."""

from __future__ import annotations

from uuid import UUID

from event_store.dynamodb.client import Item, n, s

FEED_BUCKET_SIZE = 100_000
"""Notification ids per feed partition (``f#{id // FEED_BUCKET_SIZE}``). Never change it for an
existing feed: readers locate ids by it."""


class Keys:
    """Key builders for one namespace (by default, the application's name)."""

    def __init__(self, namespace: str = "") -> None:
        self.namespace = namespace
        self.prefix = f"{namespace}#" if namespace else ""

    def feed_head(self) -> Item:
        return {"pk": s(f"{self.prefix}head"), "sk": n(0)}

    def feed_pk(self, bucket: int) -> str:
        return f"{self.prefix}f#{bucket}"

    def stream_pk(self, originator_id: UUID | str) -> str:
        return f"{self.prefix}s#{originator_id}"

    def stream_head(self, originator_id: UUID | str) -> Item:
        return {"pk": s(f"{self.prefix}v#{originator_id}"), "sk": n(0)}

    def tracking(self, application_name: str) -> Item:
        return {"pk": s(f"{self.prefix}t#{application_name}")}
