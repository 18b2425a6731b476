"""A multipart/form-data body parsed as it arrives (python-multipart's push parser): the text
fields are collected (each bounded), the one file part is handed to a sink in chunks of
`CHUNK_SIZE` as its bytes come, so neither the body nor the file is ever held whole.

The fields come first: when the file part begins, `start_file(fields, filename)` is called with
every field sent so far and answers the sink; a field after the file part, a second file part,
an unknown or repeated field, a body that is not well-formed multipart: `InvalidInput` naming the
field (`file` for the file part, `body` for the framing).

    form = MultipartForm(content_type, start_file, fields={"firmwareVersion", ...})
    form.feed(data)     # as often as data arrives (blocking: the sink writes)
    form.finish()       # InvalidInput(field="file") when no file part came
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Protocol

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ota.port import CHUNK_SIZE
from write_side.errors import InvalidInput

MAX_FIELD_BYTES = 64 * 1024  # one text field (release notes are at most 10,000 characters)
MAX_FIELDS = 64  # text parts, repeats included
MAX_FORM_BYTES = 1024 * 1024  # all text parts together


class FileSink(Protocol):
    def write(self, chunk: bytes) -> None: ...


StartFile = Callable[[Mapping[str, list[str]], str], FileSink]


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a multipart/form-data `Content-Type`; InvalidInput(field="body") else."""
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidInput("the body must be multipart/form-data with a boundary", field="body")
    return boundary


class MultipartForm:
    def __init__(
        self, content_type: str | None, start_file: StartFile, fields: Collection[str]
    ) -> None:
        self.fields: dict[str, list[str]] = {}
        self.filename: str | None = None
        self.file_size = 0
        self._known = frozenset(fields)
        self._start_file = start_file
        self._sink: FileSink | None = None
        self._in_file = False
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._disposition = b""
        self._value = bytearray()
        self._name = ""
        self._buffer = bytearray()
        self._parts = 0
        self._form_bytes = 0
        self._ended = False
        self._parser = MultipartParser(
            boundary_of(content_type),
            {
                "on_part_begin": self._part_begin,
                "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
                "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
                "on_end": self._end,
            },
        )

    def feed(self, data: bytes) -> None:
        try:
            self._parser.write(data)
        except MultipartParseError as e:
            raise InvalidInput(f"not well-formed multipart: {e}", field="body") from None

    def finish(self) -> None:
        """The body has ended: it must have closed its last part and carried a file."""
        try:
            self._parser.finalize()
        except MultipartParseError as e:
            raise InvalidInput(f"not well-formed multipart: {e}", field="body") from None
        if not self._ended:
            raise InvalidInput("the multipart body ended before its closing boundary", "body")
        if self.filename is None:
            raise InvalidInput("a file part (with a filename) is required", field="file")

    # python-multipart's callbacks ---------------------------------------------------------------

    def _part_begin(self) -> None:
        self._disposition = b""
        self._parts += 1
        if self._parts > MAX_FIELDS + 1:
            raise InvalidInput(f"more than {MAX_FIELDS} fields", field="body")

    def _header_end(self) -> None:
        if bytes(self._header_field).lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        kind, options = parse_options_header(self._disposition)
        name = options.get(b"name")
        if kind != b"form-data" or name is None:
            raise InvalidInput("each part needs Content-Disposition: form-data; name", "body")
        self._name = name.decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is not None:
            self._begin_file(filename.decode("utf-8", "replace"))
            return
        if self.filename is not None:
            raise InvalidInput("fields must come before the file part", field=self._name)
        if self._name not in self._known:
            raise InvalidInput("not a field of this upload", field=self._name)
        self._value.clear()

    def _begin_file(self, filename: str) -> None:
        if self.filename is not None:
            raise InvalidInput("only one file part may be sent", field="file")
        if self._name != "file":
            raise InvalidInput("the file part must be named `file`", field=self._name)
        self.filename = filename
        self._sink = self._start_file(self.fields, filename)
        self._in_file = True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._buffer.extend(data[start:end])
            while len(self._buffer) >= CHUNK_SIZE:
                self._flush(CHUNK_SIZE)
            return
        if len(self._value) + end - start > MAX_FIELD_BYTES:
            raise InvalidInput(f"longer than {MAX_FIELD_BYTES} bytes", field=self._name)
        self._form_bytes += end - start
        if self._form_bytes > MAX_FORM_BYTES:
            raise InvalidInput(f"the fields exceed {MAX_FORM_BYTES} bytes", field=self._name)
        self._value.extend(data[start:end])

    def _part_end(self) -> None:
        if self._in_file:
            self._flush(len(self._buffer))
            self._in_file = False
            return
        try:
            value = self._value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("must be UTF-8 text", field=self._name) from None
        self.fields.setdefault(self._name, []).append(value)

    def _flush(self, size: int) -> None:
        if size == 0 or self._sink is None:
            return
        chunk = bytes(self._buffer[:size])
        del self._buffer[:size]
        self.file_size += len(chunk)
        self._sink.write(chunk)

    def _end(self) -> None:
        self._ended = True
