"""Custom scalars, registered once in the schema's config (`SCALAR_MAP`)."""

from __future__ import annotations

from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

# Feed positions and counters outgrow GraphQL's 32-bit Int; same JSON number on the wire.
Long = NewType("Long", int)

SCALAR_MAP: dict[object, ScalarDefinition] = {
    Long: strawberry.scalar(
        name="Long", description="A 64-bit integer.", serialize=int, parse_value=int
    ),
}
