"""Print the GraphQL schema the code builds (SDL) into docs/schema.graphql.

.venv/bin/python scripts/print_schema.py

The docs link to that file instead of holding a hand-written copy that drifts from the code;
`tests/e2e/test_introspection.py` fails when the file is not what this prints.
"""

from __future__ import annotations

from pathlib import Path

from api.graphql.schema import build_schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "docs" / "schema.graphql"
HEADER = (
    "# The GraphQL schema Fleetwatch serves at /graphql, printed from the code.\n"
    "# Do not edit: regenerate with `.venv/bin/python scripts/print_schema.py`.\n\n"
)


def printed_schema() -> str:
    return HEADER + build_schema().as_str() + "\n"


def main() -> None:
    SCHEMA_FILE.write_text(printed_schema(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")


if __name__ == "__main__":
    main()
