"""The fleet report as one self-contained HTML page (docs/analytics.md 20.4): its figures, four
charts drawn as inline SVG and its tables, from the rows of `projections.report`. No script, no
font, no image and no stylesheet is fetched (the page's Content-Security-Policy allows none), so
it opens offline, from a mail attachment or a bucket, and prints. Every text from the data
(device and rule names, versions) is escaped. Plain Python, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from projections.report import ReportRow
from write_side.severity import SEVERITIES

Bar = tuple[str, Sequence[tuple[float, str]]]  # label, its segments (value, CSS class)
MAX_BARS = 20  # bars per chart: the largest (the tables hold them all)
WIDTH, LABEL, ROW = 720, 220, 22

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:980px;color:#222}
h1{font-size:1.6em;margin-bottom:0}.sub{color:#666;margin-top:.2em}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:1em 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:1.5em}
table{border-collapse:collapse;margin:.5em 0 1.5em;width:100%}
th,td{border-bottom:1px solid #eee;padding:3px 8px;text-align:left}td.n{text-align:right}
svg text{font-size:12px;fill:#333}.info{fill:#4c8bf5}.warning{fill:#f2a33a}
.critical{fill:#d64545}.ok{fill:#3aa76d}.behind{fill:#d64545}.ack{fill:#8e6bd6}
.resolve{fill:#4c8bf5}.legend span{margin-right:1em}
@media print{.card{break-inside:avoid}svg{break-inside:avoid}}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _number(value: float, digits: int = 1) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.{digits}f}"


def duration(seconds: float) -> str:
    """`95 s`, `12.5 min`, `3.2 h`, `2.1 d`."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def bar_chart(name: str, title: str, bars: Sequence[Bar], unit: str = "") -> str:
    """A horizontal (stacked) bar chart; empty data says so instead of an empty frame."""
    if not bars:
        return f'<p class="empty" data-chart="{name}">{escape(title)}: nothing to show.</p>'
    shown = list(bars[:MAX_BARS])
    top = max(sum(v for v, _ in segments) for _, segments in shown) or 1.0
    scale = (WIDTH - LABEL - 60) / top
    height = ROW * len(shown) + 10
    parts = [
        f'<svg data-chart="{name}" role="img" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, segments) in enumerate(shown):
        y, x = 5 + i * ROW, float(LABEL)
        parts.append(
            f'<text x="{LABEL - 6}" y="{y + 14}" text-anchor="end">{escape(label[:32])}</text>'
        )
        for value, css in segments:
            w = value * scale
            if w > 0:
                tip = f"{escape(label)}: {_number(value)}{unit} ({css})"
                parts.append(f'<rect class="{css}" x="{x:.1f}" y="{y}" width="{w:.1f}" '
                             f'height="16"><title>{tip}</title></rect>')  # fmt: skip
            x += w
        total = sum(v for v, _ in segments)
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 14}">{_number(total)}{unit}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _legend(classes: Iterable[str]) -> str:
    items = "".join(f'<span><svg width="10" height="10"><rect class="{c}" width="10" '
                    f'height="10"/></svg> {c}</span>' for c in classes)  # fmt: skip
    return f'<p class="legend">{items}</p>'


def _cell(value: str | float) -> str:
    if isinstance(value, str):
        return f"<td>{escape(value)}</td>"
    return f'<td class="n">{_number(value)}</td>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str | float]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(map(_cell, row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


Metrics = dict[str, float]


class _Report:
    """The rows regrouped: the summary's metrics; each device, rule and firmware version's."""

    def __init__(self, rows: Iterable[ReportRow]) -> None:
        self.summary: Metrics = {}
        self.names: dict[str, str] = {}  # device and rule ids -> names
        self.device: dict[str, Metrics] = {}
        self.rule: dict[str, Metrics] = {}
        self.firmware: dict[tuple[str, str], Metrics] = {}
        for section, subject_id, subject, metric, value in rows:
            if section == "summary":
                self.summary[metric] = value
            elif section == "firmware":
                self.firmware.setdefault((subject_id, subject), {})[metric] = value
            elif section in ("device", "rule"):
                self.names[subject_id] = subject
                getattr(self, section).setdefault(subject_id, {})[metric] = value

    def cards(self) -> str:
        s = self.summary
        cards = [("Devices", _number(s.get("devices", 0)))]
        if "uptime_pct" in s:
            cards.append(("Fleet uptime", f"{s['uptime_pct']:.2f} %"))
        cards.append(("Outages", _number(s.get("outages", 0))))
        cards.append(("Alerts raised", _number(s.get("alerts_raised", 0))))
        cards += [(label, duration(s[m])) for m, label in _RESPONSE if m in s]
        if "compliance_pct" in s:
            cards.append(("On the latest firmware", f"{s['compliance_pct']:.1f} %"))
        return "".join(f'<div class="card">{escape(k)}<b>{escape(v)}</b></div>' for k, v in cards)

    def devices_by_uptime(self) -> list[tuple[str, Metrics]]:
        """Lowest uptime first (a device never observed last), then by name."""
        return sorted(
            self.device.items(), key=lambda d: (d[1].get("uptime_pct", 101.0), self.names[d[0]])
        )

    def charts(self) -> list[str]:
        buckets = [0] * 10
        for m in self.device.values():
            if "uptime_pct" in m:
                buckets[min(int(m["uptime_pct"] // 10), 9)] += 1
        uptime: list[Bar] = [
            (f"{10 * i}-{10 * i + 10} %", [(float(n), "ok")]) for i, n in enumerate(buckets)
        ]
        alerts: list[Bar] = [
            (self.names[k], [(m.get(f"alerts_{s}", 0.0), s) for s in SEVERITIES])
            for k, m in self.rule.items()
        ]
        response: list[Bar] = [
            (f"{self.names[k]} ({label})", [(m[metric] / 60, css)])
            for k, m in self.rule.items()
            for metric, label, css in (("mtta_s", "MTTA", "ack"), ("mttr_s", "MTTR", "resolve"))
            if metric in m
        ]
        firmware: list[Bar] = [
            (
                f"{t} {v}",
                [(m["devices"] - m["behind_latest"], "ok"), (m["behind_latest"], "behind")],
            )
            for (t, v), m in sorted(self.firmware.items())
        ]
        return [
            "<h2>Device uptime</h2>",
            bar_chart("uptime", "Devices by uptime", uptime if self.device else []),
            "<h2>Alerts by rule and severity</h2>", _legend(SEVERITIES),
            bar_chart("alerts", "Alerts by rule and severity", alerts),
            "<h2>Time to acknowledge and to resolve</h2>", _legend(("ack", "resolve")),
            bar_chart("response", "MTTA and MTTR per rule (minutes)", response, " min"),
            "<h2>Firmware compliance</h2>", _legend(("ok", "behind")),
            bar_chart("firmware", "Devices by firmware version", firmware),
        ]  # fmt: skip

    def tables(self) -> list[str]:
        devices = [
            (self.names[k], k, m.get("uptime_pct", 0.0), duration(m["online_s"]), m["outages"],
             m["alerts"], "behind" if m["behind_latest"] else "latest")
            for k, m in self.devices_by_uptime()
        ]  # fmt: skip
        rules: list[tuple[str | float, ...]] = [
            (self.names[k], m["alerts_raised"], *(m.get(f"alerts_{s}", 0.0) for s in SEVERITIES),
             *(duration(m[r]) if r in m else "-" for r, _ in _RESPONSE))
            for k, m in self.rule.items()
        ]  # fmt: skip
        firmware = [
            (t, v, m["devices"], m["behind_latest"]) for (t, v), m in sorted(self.firmware.items())
        ]
        return [
            "<h2>Devices</h2><p>Lowest uptime first.</p>",
            _table(("Device", "Id", "Uptime %", "Online", "Outages", "Alerts", "Firmware"),
                   devices),
            "<h2>Rules</h2>",
            _table(("Rule", "Alerts", *SEVERITIES, "MTTA", "MTTR"), rules),
            "<h2>Firmware</h2>",
            _table(("Device type", "Version", "Devices", "Behind the latest"), firmware),
        ]  # fmt: skip


_RESPONSE = (("mtta_s", "MTTA"), ("mttr_s", "MTTR"))


def render(rows: Iterable[ReportRow], title: str, subtitle: str) -> str:
    """The page of the report's rows."""
    report = _Report(rows)
    heading = f'<h1>{escape(title)}</h1><p class="sub">{escape(subtitle)}</p>'
    cards = f'<div class="cards">{report.cards()}</div>'
    body = "".join([heading, cards, *report.charts(), *report.tables()])
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )
