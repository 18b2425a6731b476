"""The local deployment is opt-in (docs/operations.md 15.1): its test is part of the suite only
where the emulator is installed (`.emulator/venv`, made by the first `scripts/local_deploy`).
Elsewhere (a fresh clone, CI) it is not collected, rather than skipped: the suite's tests fail
when what they need is missing, and this one needs what a newcomer has not asked for."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MINISTACK = ROOT / ".emulator" / "venv" / "bin" / "ministack"

collect_ignore_glob = [] if MINISTACK.exists() else ["test_*.py"]
