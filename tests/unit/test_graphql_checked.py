"""`api.graphql.checked`: a document text found valid is parsed and validated once; invalid
ones (bad syntax, unknown fields, past a limit) are checked, and refused with their codes,
every time."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from graphql import parse
from strawberry.schema import schema as strawberry_schema

from api.graphql.checked import CheckedDocuments
from api.graphql.schema import MAX_ALIASES, build_schema


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts strawberry validated."""
    seen: list[str] = []
    validate = strawberry_schema.validate_document

    def counted(schema: Any, document: Any, rules: Any) -> Any:
        seen.append(document.loc.source.body)
        return validate(schema, document, rules)

    monkeypatch.setattr(strawberry_schema, "validate_document", counted)
    return seen


def codes(text: str, schema: Any) -> list[str]:
    result = asyncio.run(schema.execute(text))
    return [e.extensions["code"] for e in result.errors or []]


def test_a_valid_text_is_validated_once(validations: list[str]) -> None:
    schema = build_schema()
    for _ in range(3):
        assert codes("{ __typename }", schema) == []
    assert codes("query Q { __typename }", schema) == []
    assert validations == ["{ __typename }", "query Q { __typename }"]
    assert codes("{ __typename }", build_schema()) == []  # another schema: its own memory
    assert len(validations) == 3


def test_invalid_texts_are_refused_every_time(validations: list[str]) -> None:
    schema = build_schema()
    too_many = "{ " + " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES + 1)) + " }"
    for _ in range(2):
        assert codes("{ nope }", schema) == ["GRAPHQL_VALIDATION_FAILED"]
        assert codes("{ __typename", schema) == ["GRAPHQL_PARSE_FAILED"]
        assert codes(too_many, schema) == ["GRAPHQL_VALIDATION_FAILED"]
    assert validations == ["{ nope }", too_many] * 2


def test_the_memory_keeps_the_latest_texts() -> None:
    checked = CheckedDocuments(maxsize=2)
    documents = {text: parse(f"{{ {text} }}") for text in "abcd"}
    for text in "abc":
        checked.found_valid(text, documents[text])
    assert checked.document("a") is None
    assert checked.document("b") is documents["b"]  # now the latest
    checked.found_valid("d", documents["d"])
    assert checked.document("b") is documents["b"]
    assert checked.document("c") is None
