"""Semantic Versioning 2.0.0 (https://semver.org): parsing, precedence and a sort key.

Precedence follows section 11 of the specification: major, minor and patch compared
numerically; a version with a prerelease is lower than the same version without one; prerelease
identifiers compared one by one (numeric ones numerically and below alphanumeric ones,
alphanumeric ones in ASCII order; a longer list wins when all shared identifiers are equal).
Build metadata is kept but ignored for precedence (section 10), so 1.4.0+a and 1.4.0+b have the
same precedence and the same `identity` ("1.4.0").

`sort_key` is a string whose plain (code point) order is the precedence order, so a read model
can index releases by it as a string column (docs/firmware.md section 12.7). Bad input is
`InvalidInput(field="version")`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from write_side.errors import InvalidInput

MAX_LENGTH = 64  # as a device's reported `firmware_version` (docs/write-side.md section 5.2)

_NUMBER = r"0|[1-9]\d*"
_IDENTIFIER = r"0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*"
_SEMVER = re.compile(
    rf"^(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<pre>(?:{_IDENTIFIER})(?:\.(?:{_IDENTIFIER}))*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$",
    re.ASCII,
)

# Sort key characters, in code point order: "!" ends a prerelease identifier (below every
# identifier character), "-" starts a prerelease, "~" marks a release (above every prerelease).
_END, _PRERELEASE, _RELEASE = "!", "-", "~"
_NUMERIC, _ALPHANUMERIC = "1", "2"  # numeric identifiers sort below alphanumeric ones

Identifier = int | str


@total_ordering
@dataclass(frozen=True, eq=False)
class SemVer:
    """A parsed version. `==` and `<` are precedence (build metadata ignored)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[Identifier, ...] = ()
    build: tuple[str, ...] = ()

    @property
    def identity(self) -> str:
        """The version without its build metadata: equal identities, equal precedence."""
        core = f"{self.major}.{self.minor}.{self.patch}"
        if not self.prerelease:
            return core
        return core + "-" + ".".join(str(part) for part in self.prerelease)

    def __str__(self) -> str:
        return self.identity + ("+" + ".".join(self.build) if self.build else "")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return compare(self, other) == 0

    def __lt__(self, other: SemVer) -> bool:
        return compare(self, other) < 0

    def __hash__(self) -> int:
        return hash(self.identity)

    @property
    def sort_key(self) -> str:
        """A string ordered as the precedence (equal for equal precedence)."""
        core = "".join(_number(n) for n in (self.major, self.minor, self.patch))
        if not self.prerelease:
            return core + _RELEASE
        parts = (
            (_NUMERIC + _number(part) if isinstance(part, int) else _ALPHANUMERIC + part) + _END
            for part in self.prerelease
        )
        return core + _PRERELEASE + "".join(parts)


def parse_semver(text: str, field: str = "version") -> SemVer:
    """The version `text` spells; `InvalidInput(field=...)` when it is not SemVer 2.0."""
    if not isinstance(text, str) or len(text) > MAX_LENGTH:
        raise InvalidInput(f"a version is a SemVer string of at most {MAX_LENGTH} chars", field)
    match = _SEMVER.match(text)
    if match is None:
        raise InvalidInput(f"{text!r} is not a SemVer 2.0 version (e.g. 1.4.0-rc.1)", field)
    pre = match["pre"]
    return SemVer(
        major=int(match["major"]),
        minor=int(match["minor"]),
        patch=int(match["patch"]),
        prerelease=tuple(_identifier(p) for p in pre.split(".")) if pre else (),
        build=tuple(match["build"].split(".")) if match["build"] else (),
    )


def compare(a: SemVer, b: SemVer) -> int:
    """-1, 0 or 1 as `a` has lower, equal or higher precedence than `b` (semver.org 11)."""
    core_a, core_b = (a.major, a.minor, a.patch), (b.major, b.minor, b.patch)
    if core_a != core_b:
        return -1 if core_a < core_b else 1
    if not a.prerelease or not b.prerelease:  # a release is above its prereleases
        return (not a.prerelease) - (not b.prerelease)
    for x, y in zip(a.prerelease, b.prerelease, strict=False):
        if x == y:
            continue
        if isinstance(x, int) and isinstance(y, int):
            return -1 if x < y else 1
        if isinstance(x, int) or isinstance(y, int):
            return -1 if isinstance(x, int) else 1
        return -1 if x < y else 1
    return (len(a.prerelease) > len(b.prerelease)) - (len(a.prerelease) < len(b.prerelease))


def _identifier(text: str) -> Identifier:
    return int(text) if text.isdigit() else text


def _number(n: int) -> str:
    """A natural number whose string order is its numeric order: its digit count first."""
    digits = str(n)
    return f"{len(digits):02d}{digits}"
