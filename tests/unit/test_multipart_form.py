"""The incremental multipart parser of the streamed upload (api/multipart_form.py): however the
body is cut as it arrives, the fields and the file come out whole and the file reaches its sink
in chunks of at most 1 MiB; misplaced, unknown or repeated parts are named."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.multipart_form import MultipartForm
from ota.port import CHUNK_SIZE
from tests.e2e.firmware_upload_client import CONTENT_TYPE, body
from write_side.errors import InvalidInput

FIELDS = [("firmwareVersion", "1.0.0"), ("deviceTypes", "pump"), ("deviceTypes", "valve")]
KNOWN = ("firmwareVersion", "deviceTypes", "releaseNotes")


class Sink:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.fields: dict[str, list[str]] = {}
        self.filename = ""

    def start(self, fields: Mapping[str, list[str]], filename: str) -> Sink:
        self.fields, self.filename = {k: list(v) for k, v in fields.items()}, filename
        return self

    def write(self, chunk: bytes) -> None:
        self.chunks.append(chunk)


def parse(data: bytes, cuts: list[int]) -> tuple[MultipartForm, Sink]:
    sink = Sink()
    form = MultipartForm(CONTENT_TYPE, sink.start, KNOWN)
    start = 0
    for cut in sorted({min(c, len(data)) for c in cuts}):
        form.feed(data[start:cut])
        start = cut
    form.feed(data[start:])
    form.finish()
    return form, sink


@settings(deadline=None)  # bodies up to 3 MiB: 120-250 ms on a busy 2-core machine
@given(
    size=st.integers(0, 3 * CHUNK_SIZE),
    cuts=st.lists(st.integers(0, 3 * CHUNK_SIZE + 1000), max_size=20),
)
def test_any_cut_of_the_body_gives_the_same_fields_and_file(size: int, cuts: list[int]) -> None:
    image = bytes(i % 251 for i in range(size))
    data = b"".join(body(FIELDS, [image]))
    form, sink = parse(data, cuts)
    assert sink.fields == {"firmwareVersion": ["1.0.0"], "deviceTypes": ["pump", "valve"]}
    assert sink.filename == "fw.bin"
    assert b"".join(sink.chunks) == image
    assert all(0 < len(chunk) <= CHUNK_SIZE for chunk in sink.chunks)
    assert all(len(chunk) == CHUNK_SIZE for chunk in sink.chunks[:-1])
    assert form.file_size == size


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"".join(body(FIELDS, None)), "file"),
        (b"".join(body(FIELDS, [b"x"], fields_after=[("releaseNotes", "late")])), "releaseNotes"),
        (b"".join(body([*FIELDS, ("colour", "red")], [b"x"])), "colour"),
        (b"".join(body(FIELDS, [b"x"]))[:-20], "body"),  # no closing boundary
        (b"garbage", "body"),
    ],
)
def test_misplaced_unknown_or_missing_parts_are_named(data: bytes, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse(data, [])
    assert raised.value.field == field


def test_a_body_that_is_not_multipart_form_data_is_named() -> None:
    with pytest.raises(InvalidInput) as raised:
        MultipartForm("application/json", Sink().start, KNOWN)
    assert raised.value.field == "body"
