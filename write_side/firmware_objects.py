"""Where a release's image is stored: its content-addressed key, `firmware/{tenant}/{sha256}`,
the one function every part uses (the release records it in `UploadRequested`; the blob
stores, `ota.port`, read and write there). The tenant is one percent-encoded path segment, so a
tenant id holding `/` or `..` never addresses another tenant's prefix. Pure: no I/O.

A release recorded before the encoding keeps the key its event holds (events are never
rewritten); only a tenant id with characters outside `[A-Za-z0-9_~-]` had a different one."""

from __future__ import annotations

import re
from urllib.parse import quote

from write_side.errors import InvalidInput

__all__ = ["KEY_PREFIX", "SHA256_HEX", "check_sha256", "object_key", "tenant_segment"]

KEY_PREFIX = "firmware"
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def check_sha256(value: str, field: str = "sha256") -> str:
    """A SHA-256 as 64 hex digits (upper case accepted), lower-cased; else `InvalidInput`."""
    normal = value.strip().lower()
    if not SHA256_HEX.match(normal):
        raise InvalidInput("must be a SHA-256 as 64 hexadecimal digits", field=field)
    return normal


def tenant_segment(tenant_id: str) -> str:
    """The tenant as one safe path segment: percent-encoded, dots too (so never `.` or `..`),
    and injective (`%` itself is encoded)."""
    if not tenant_id.strip():
        raise InvalidInput("must not be blank", field="tenant_id")
    return quote(tenant_id, safe="").replace(".", "%2E")


def object_key(tenant_id: str, sha256: str) -> str:
    """`firmware/{tenant}/{sha256}`: where the image with that SHA-256 lives. One image
    compatible with several types is stored once."""
    return f"{KEY_PREFIX}/{tenant_segment(tenant_id)}/{check_sha256(sha256)}"
