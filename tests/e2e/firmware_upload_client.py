"""Helpers of the firmware upload tests: a multipart/form-data body made lazily (so a test sends
it chunked, as a streaming client does), signatures, and what the blob store holds."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from write_side.firmware_signing import key_id_of, signed_message

BOUNDARY = "fleetwatch-test-boundary-7f3a"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
Fields = Sequence[tuple[str, str]]


def field_part(name: str, value: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
    ).encode()


def file_head(filename: str = "fw.bin", name: str = "file") -> bytes:
    return (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; "
        f'name="{name}"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()


def body(
    fields: Fields, image: Iterable[bytes] | None, *, fields_after: Fields = ()
) -> Iterator[bytes]:
    """The parts in order: `fields`, the file (if any), `fields_after`; then the end."""
    for name, value in fields:
        yield field_part(name, value)
    if image is not None:
        yield file_head()
        yield from image
        yield b"\r\n"
    for name, value in fields_after:
        yield field_part(name, value)
    yield f"--{BOUNDARY}--\r\n".encode()


def upload(
    client: httpx.Client,
    token: str,
    fields: Fields,
    image: Iterable[bytes] | None,
    **options: Any,
) -> httpx.Response:
    """POST /firmware/upload, chunked (no Content-Length: the server cannot know the size)."""
    return client.post(
        "/firmware/upload",
        content=body(fields, image, **options),
        headers={"Authorization": token, "Content-Type": CONTENT_TYPE},
    )


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Signer:
    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = base64.b64encode(raw).decode()
        self.key_id = key_id_of(raw)

    def sign(self, image: bytes, version: str, device_types: Sequence[str]) -> str:
        message = signed_message(sha256_of(image), len(image), version, list(device_types))
        return base64.b64encode(self.private.sign(message)).decode()
