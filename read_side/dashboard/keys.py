"""The keys of the dashboard's figures, and the key ranges one dashboard read asks for.

Every figure of a tenant is one item under `(tenant_id, key)`; keys sort so that what one
dashboard reads is four contiguous ranges, each bounded whatever the number of devices:

- `fleet#...`: devices by lifecycle, connectivity, type, firmware version; open alerts by
  severity and state (bounded by the distinct values, not by the devices);
- `mtt#{week}#{rule}#{ack_n|ack_ms|res_n|res_ms}`: counts and sums of whole milliseconds to
  acknowledge and to resolve, per ISO week (`2026-W49`, sorts) and rule; a read asks for
  `MTT_WEEKS` weeks;
- `ingest#{minute}#{m|r}`: messages and readings received per UTC minute; a read asks for the
  last `INGEST_MINUTES`;
- `top#{week}#{device|rule}`: the noisiest devices and rules of a week (a bounded list kept by
  the projection); the per-week counts it keeps them from, `noisy#{week}#...`, are never read
  by the dashboard.
"""

from __future__ import annotations

from datetime import datetime, timedelta

MTT_WEEKS = 8
INGEST_MINUTES = 60
TOP_WEEKS = 2
TOP_N = 10
END = "~"  # sorts after every character a key part holds (hex, digits, '#', '-', ':', 'W')


def week_of(at: datetime) -> str:
    year, week, _ = at.isocalendar()
    return f"{year:04d}-W{week:02d}"


def minute_of(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M")


def fleet(kind: str, value: str) -> str:
    return f"fleet#{kind}#{value}"


def mtt(week: str, rule_id: str, part: str) -> str:
    return f"mtt#{week}#{rule_id}#{part}"


def ingest(minute: str, part: str) -> str:
    return f"ingest#{minute}#{part}"


def noisy(week: str, kind: str, entity_id: str) -> str:
    return f"noisy#{week}#{kind}#{entity_id}"


def top(week: str, kind: str) -> str:
    return f"top#{week}#{kind}"


KeyRange = tuple[str, str]  # inclusive bounds


def weeks_back(now: datetime, count: int) -> list[str]:
    """The ISO weeks of `now` and the `count - 1` before it, oldest first."""
    return [week_of(now - timedelta(weeks=i)) for i in reversed(range(count))]


def read_ranges(now: datetime) -> dict[str, KeyRange]:
    """The four key ranges of one dashboard read at `now` (bounded: see the module doc)."""
    first_minute = minute_of(now - timedelta(minutes=INGEST_MINUTES - 1))
    return {
        "fleet": ("fleet#", f"fleet#{END}"),
        "mtt": (f"mtt#{weeks_back(now, MTT_WEEKS)[0]}", f"mtt#{week_of(now)}#{END}"),
        "ingest": (f"ingest#{first_minute}", f"ingest#{minute_of(now)}#{END}"),
        "top": (f"top#{weeks_back(now, TOP_WEEKS)[0]}", f"top#{week_of(now)}#{END}"),
    }
