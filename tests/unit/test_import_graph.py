"""The dependency rules between the top-level packages, computed from the source (issue 11).

Every `import` and `from ... import` counts, those inside functions included: a lazy import is
still a dependency, it only moves the failure to run time. Imports under `if TYPE_CHECKING:`
do not count for cycles (they never run; they only name types), but they do count for the
domain rules: the write side must not even name the read side's types.

- no cycle between top-level packages, and nothing imports `fleetwatch` (the composition
  root: it imports the others to wire them, never the other way round);
- the domain (`write_side`) imports nothing from `api`, `read_side`, `projections`,
  `ingestion`;
- `read_side` imports no module of `write_side` that defines an aggregate;
- the OTA adapters (`ota`) import nothing from `api`, `read_side`, `projections`, `ingestion`;
- tamper evidence (`audit`: the pure hashing and Merkle log, the ledger and its stores) builds
  on the event store only: nothing from `write_side`, `api`, `read_side`, `projections`,
  `ingestion`, `ota`, `notifications` (the ledger's worker lives in `projections`).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "fleetwatch",
    "write_side",
    "read_side",
    "projections",
    "event_store",
    "api",
    "notifications",
    "ingestion",
    "ota",
    "audit",
)
DOMAIN_MUST_NOT_IMPORT = ("api", "read_side", "projections", "ingestion", "ota")
# The OTA adapters (blob stores, later device jobs) take the domain's errors and types only.
OTA_MUST_NOT_IMPORT = ("api", "read_side", "projections", "ingestion")
AUDIT_MUST_NOT_IMPORT = (
    "write_side",
    "api",
    "read_side",
    "projections",
    "ingestion",
    "ota",
    "notifications",
)


@dataclass(frozen=True)
class Import:
    source: str  # the importing package
    target: str  # the imported top-level package
    module: str  # the imported module, dotted
    names: tuple[str, ...]  # for `from module import names`; empty for `import module`
    where: str  # path:line
    type_checking: bool  # under `if TYPE_CHECKING:`

    def __str__(self) -> str:
        what = f"from {self.module} import {', '.join(self.names)}" if self.names else self.module
        return f"{self.where}: {what}" + (" (TYPE_CHECKING)" if self.type_checking else "")


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, package: str) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    guarded = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node)
        for statement in node.body
        for inner in ast.walk(statement)
    }
    where = path.relative_to(ROOT)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found = [(alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found = [(node.module, tuple(alias.name for alias in node.names))]
        else:  # relative imports stay inside their package
            continue
        for module, names in found:
            target = module.split(".")[0]
            if target in PACKAGES and target != package:
                yield Import(
                    package, target, module, names, f"{where}:{node.lineno}", id(node) in guarded
                )


@functools.cache
def _scan() -> tuple[Import, ...]:
    """Every import of the packages, parsed once per session (each test reads it)."""
    return tuple(
        found
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for found in _imports(path, package)
    )


def all_imports() -> list[Import]:
    return list(_scan())


def _reaches(edges: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(edges.get(node, ()))
    return False


def cycle_imports(imports: list[Import]) -> list[Import]:
    """The runtime imports that lie on a cycle: A imports B while B (transitively) imports A."""
    runtime = [i for i in imports if not i.type_checking]
    edges: dict[str, set[str]] = {}
    for i in runtime:
        edges.setdefault(i.source, set()).add(i.target)
    return [i for i in runtime if _reaches(edges, i.target, i.source)]


def _aggregate_modules() -> set[str]:
    """The `write_side` modules that define an aggregate (a class based on `Aggregate`)."""
    found = set()
    for path in (ROOT / "write_side").rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                (isinstance(b, ast.Name) and b.id == "Aggregate")
                or (isinstance(b, ast.Attribute) and b.attr == "Aggregate")
                for b in node.bases
            ):
                module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                found.add(module.removesuffix(".__init__"))
    return found


def _lines(imports: list[Import]) -> str:
    return "\n".join(str(i) for i in imports)


def test_the_scan_sees_lazy_and_type_checking_imports() -> None:
    """The scan itself: it must find the composition root's imports, lazy ones included (the
    Redis fan-out is imported inside a function), and tell TYPE_CHECKING ones apart."""
    imports = all_imports()
    assert any(i.module == "read_side.fanout_redis" for i in imports if i.source == "fleetwatch")
    assert any(i.type_checking for i in imports)
    assert {"write_side.devices", "write_side.alerts", "write_side.users"} <= _aggregate_modules()


def test_no_import_cycle_between_top_level_packages() -> None:
    cycles = cycle_imports(all_imports())
    assert not cycles, "imports on a cycle between packages:\n" + _lines(cycles)


def test_nothing_imports_the_composition_root() -> None:
    found = [i for i in all_imports() if i.target == "fleetwatch"]
    assert not found, "only entry points may import `fleetwatch`:\n" + _lines(found)


def test_the_domain_imports_no_adapter_read_side_or_api() -> None:
    found = [
        i for i in all_imports() if i.source == "write_side" and i.target in DOMAIN_MUST_NOT_IMPORT
    ]
    assert not found, "write_side depends on an outer package:\n" + _lines(found)


def test_the_read_side_imports_no_aggregate() -> None:
    aggregates = _aggregate_modules()
    found = [
        i
        for i in all_imports()
        if i.source == "read_side"
        and (i.module in aggregates or any(f"{i.module}.{name}" in aggregates for name in i.names))
    ]
    assert not found, "read_side imports an aggregate's module:\n" + _lines(found)


def test_the_ota_adapters_import_no_api_read_side_or_projection() -> None:
    found = [i for i in all_imports() if i.source == "ota" and i.target in OTA_MUST_NOT_IMPORT]
    assert not found, "ota depends on an outer package:\n" + _lines(found)


def test_the_scan_sees_the_ota_package() -> None:
    assert any(i.source == "ota" and i.module == "write_side.errors" for i in all_imports())


def test_tamper_evidence_builds_on_the_event_store_only() -> None:
    found = [i for i in all_imports() if i.source == "audit" and i.target in AUDIT_MUST_NOT_IMPORT]
    assert not found, "audit depends on an outer package:\n" + _lines(found)
