"""Times that callers send (GraphQL, REST) made safe for the read models: aware, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from write_side.errors import InvalidInput


def as_utc(at: datetime, field: str) -> datetime:
    """`at` in UTC (a time without a zone is taken as UTC); a time that cannot be expressed in
    UTC (year 1 at +01:00, year 9999 at -05:00) is invalid input on `field`."""
    if at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    try:
        return at.astimezone(UTC)
    except OverflowError:
        raise InvalidInput("the time is out of range once converted to UTC", field=field) from None
