"""The blob stores' typed errors. Each is a `DomainError` with its own `code`, so the API maps
it to an HTTP status in one place (`api/errors.py`: 413, 416, 404, 501); bad client input stays
`write_side.errors.InvalidInput` naming the field (`sha256`)."""

from __future__ import annotations

from write_side.errors import DomainError, NotFound


class BlobTooLarge(DomainError):
    """The body grew past the limit; what was written so far is discarded (HTTP 413)."""

    code = "PAYLOAD_TOO_LARGE"

    def __init__(self, max_bytes: int, field: str = "file") -> None:
        super().__init__(f"{field}: larger than the limit of {max_bytes} bytes")
        self.max_bytes = max_bytes
        self.field = field


class RangeNotSatisfiable(DomainError):
    """No byte of the requested range is in the blob (HTTP 416, `Content-Range: bytes */size`)."""

    code = "RANGE_NOT_SATISFIABLE"

    def __init__(self, size: int, header: str) -> None:
        super().__init__(f"range {header!r} is outside the {size} bytes of the blob")
        self.size = size
        self.header = header


class BlobNotFound(NotFound):
    """No blob under that key (HTTP 404, the `NOT_FOUND` code)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no blob {key!r}")
        self.key = key


class PresignNotSupported(DomainError):
    """The store cannot hand out that presigned request (the local store has no presigned
    upload: the embedded upload streams through the API). HTTP 501."""

    code = "PRESIGN_NOT_SUPPORTED"


class PresignedUrlInvalid(DomainError):
    """A local presigned download URL whose signature is wrong or whose time is up (HTTP 403,
    as S3 answers an expired or tampered presigned URL)."""

    code = "PRESIGNED_URL_INVALID"
