"""Alert severities, declared once for every layer (issue 11): rules and alerts carry one, users
route notifications by it, read models rank the open alerts by it, and the API's `Severity`
enum (`api/device_view.py`) shows it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

Severity = Literal["info", "warning", "critical"]  # least severe first
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
SEVERITY_RANK: Mapping[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """0 for info .. 2 for critical; -1 for an unknown severity (sorts below every known one)."""
    return SEVERITY_RANK.get(severity, -1)
