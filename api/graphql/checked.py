"""Documents the schema has parsed and found valid before, remembered by their text.

Clients send the same few documents again and again (a frontend's queries, a device rename);
graphql-core parsed and validated each request anew, about 3-4 ms of CPU for a mutation on
this schema: more than the command it runs. Validation depends only on the document and the
schema (the limits on depth, aliases and tokens are constants here), never on variables, so
a text that validated with no error validates so again. Invalid documents are not remembered
(checked every time, their errors made afresh). Both memories are bounded LRUs (`MAXSIZE`
texts), one per schema; a document text is at most `MAX_TOKENS` tokens.
strawberry's own `ParserCache`/`ValidationCache` key the validation by the rule classes,
which the limit extensions make anew for every request, so they would never hit.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from functools import lru_cache
from threading import Lock
from typing import Any

from graphql import DocumentNode, parse
from strawberry.extensions import SchemaExtension

MAXSIZE = 256


class CheckedDocuments:
    """One schema's memory of parsed documents and of texts found valid."""

    def __init__(self, maxsize: int = MAXSIZE) -> None:
        self.parse: Callable[..., DocumentNode] = lru_cache(maxsize=maxsize)(parse)
        self._valid: OrderedDict[str, None] = OrderedDict()
        self._maxsize = maxsize
        self._lock = Lock()

    def valid(self, text: str) -> bool:
        with self._lock:
            if text in self._valid:
                self._valid.move_to_end(text)
                return True
            return False

    def found_valid(self, text: str) -> None:
        with self._lock:
            self._valid[text] = None
            while len(self._valid) > self._maxsize:
                self._valid.popitem(last=False)

    def extension(self) -> RememberedChecks:
        return RememberedChecks(self)


class RememberedChecks(SchemaExtension):
    """Parses through the memory, and skips validating a text found valid before."""

    def __init__(self, checked: CheckedDocuments) -> None:
        super().__init__()
        self.checked = checked

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            options: Any = context.parse_options
            # A text that does not parse: strawberry parses it again, and reports the error.
            with contextlib.suppress(Exception):
                context.graphql_document = self.checked.parse(context.query, **options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        text = context.query
        known = text is not None and self.checked.valid(text)
        if known:
            context.pre_execution_errors = []  # strawberry then skips its validation
        yield
        if text is not None and not known and context.pre_execution_errors == []:
            self.checked.found_valid(text)
