"""The expected version of a REST write: from the body or query, or an `If-Match` header (the
ETag a read answered with), parsed once for every resource that takes one."""

from __future__ import annotations

from write_side.errors import InvalidInput


def expected_version(
    given: int | None, if_match: str | None, what: str = "a", *, lowest: int = 1
) -> int | None:
    """`given` (body or query), or the version in `If-Match: "<version>"` (also `W/"3"`);
    `*` means any. A malformed tag, one below `lowest` (0 where a resource has a version
    before it exists, as a user has), or one that differs from `given`, is invalid input;
    `what` names the resource in the message (`a device` -> 'expected a device version')."""
    if if_match is None or if_match.strip() == "*":
        return given
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit() or int(tag) < lowest:
        raise InvalidInput(f'expected {what} version, e.g. "3"', field="If-Match")
    if given is not None and given != int(tag):
        raise InvalidInput("differs from the If-Match header", field="expectedVersion")
    return int(tag)
