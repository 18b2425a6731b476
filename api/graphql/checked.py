"""Documents the schema has parsed and found valid before, remembered by their text.

Clients send the same few documents again and again (a frontend's queries, a device rename);
graphql-core parsed and validated each request anew, about 3-4 ms of CPU for a mutation on
this schema: more than the command it runs. Validation depends only on the document and the
schema (the limits on depth, aliases and tokens are constants here), never on variables, so
a text that validated with no error validates so again: its parsed document is kept and used
as it is. Texts that do not parse or validate are not kept (checked every time, their errors
made afresh), so only valid documents take memory: at most `MAXSIZE` per schema, the least
recently used going first. A document of `MAX_TOKENS` tokens parses to about 0.7 MiB, so the
bound is about 45 MiB; a frontend's documents are a few KiB each.
strawberry's own `ParserCache`/`ValidationCache` key the validation by the rule classes,
which the limit extensions make anew for every request, so they would never hit, and their
parse cache keeps any text that parses, valid or not.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from threading import Lock

from graphql import DocumentNode
from strawberry.extensions import SchemaExtension

MAXSIZE = 64


class CheckedDocuments:
    """One schema's memory of the documents it found valid, by their text."""

    def __init__(self, maxsize: int = MAXSIZE) -> None:
        self._valid: OrderedDict[str, DocumentNode] = OrderedDict()
        self._maxsize = maxsize
        self._lock = Lock()

    def document(self, text: str) -> DocumentNode | None:
        """The parsed document of `text`, if it was found valid (and is still remembered)."""
        with self._lock:
            document = self._valid.get(text)
            if document is not None:
                self._valid.move_to_end(text)
            return document

    def found_valid(self, text: str, document: DocumentNode) -> None:
        with self._lock:
            self._valid[text] = document
            self._valid.move_to_end(text)
            while len(self._valid) > self._maxsize:
                self._valid.popitem(last=False)

    def extension(self) -> RememberedChecks:
        return RememberedChecks(self)


class RememberedChecks(SchemaExtension):
    """Takes a remembered text's document (no parse, no validation); remembers a new one once
    strawberry has parsed it and found it valid."""

    def __init__(self, checked: CheckedDocuments) -> None:
        super().__init__()
        self.checked = checked
        self.known = False

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            document = self.checked.document(context.query)
            if document is not None:
                context.graphql_document, self.known = document, True
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if self.known:
            context.pre_execution_errors = []  # strawberry then skips its validation
        yield
        text, document = context.query, context.graphql_document
        if not self.known and text and document is not None and context.pre_execution_errors == []:
            self.checked.found_valid(text, document)
