"""The health gate between waves: after a wave's soak, are its updated devices no worse than
the devices not yet updated?

Success thresholds count what devices say about themselves; a release can install cleanly and
still make devices worse (more alerts, a hotter battery). So before the next wave the wave's
updated devices are compared with a control cohort on the alert raise rate per device-hour and
on one chosen metric's mean, each with a margin, and a device that left the target version
during the soak is a regression. Pure: the orchestrator gathers the cohorts' figures and records
the result with them as evidence. Design: docs/firmware.md section 12.2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from write_side.errors import InvalidInput

METRIC_NAME_MAX = 64


@dataclass(frozen=True, slots=True)
class Cohort:
    """A group of devices over the soak: how long they were watched and what they did."""

    devices: int
    device_hours: float
    alerts: int = 0  # alerts raised during the soak
    metric_sum: float = 0.0
    metric_samples: int = 0
    regressions: int = 0  # devices that left the target version (updated cohort only)

    @property
    def alert_rate(self) -> float:
        """Alerts per device-hour (0 for an empty cohort)."""
        return self.alerts / self.device_hours if self.device_hours > 0 else 0.0

    @property
    def metric_mean(self) -> float | None:
        return self.metric_sum / self.metric_samples if self.metric_samples else None

    def as_evidence(self) -> dict[str, Any]:
        return {
            "devices": self.devices,
            "device_hours": self.device_hours,
            "alerts": self.alerts,
            "alert_rate": self.alert_rate,
            "metric_mean": self.metric_mean,
            "regressions": self.regressions,
        }


@dataclass(frozen=True, slots=True)
class HealthGate:
    metric: str
    higher_is_better: bool = False
    metric_margin_percent: float = 5.0
    alert_margin_percent: float = 10.0
    min_devices: int = 1  # smaller cohorts are no evidence: the gate passes and says so

    def __post_init__(self) -> None:
        if not 1 <= len(self.metric) <= METRIC_NAME_MAX:
            raise InvalidInput("a metric name has 1..64 characters", "healthGate.metric")
        for name in ("metric_margin_percent", "alert_margin_percent"):
            if not 0 <= getattr(self, name) <= 1000:
                camel = "metricMarginPercent" if name.startswith("metric") else "alertMarginPercent"
                raise InvalidInput("a margin is 0..1000 %", f"healthGate.{camel}")
        if self.min_devices < 1:
            raise InvalidInput("at least 1 device", "healthGate.minDevices")


@dataclass(frozen=True, slots=True)
class HealthCheck:
    passed: bool
    reasons: tuple[str, ...]  # why it failed, or why it passed without evidence
    evidence: dict[str, Any]


def judge_health(gate: HealthGate, updated: Cohort, control: Cohort) -> HealthCheck:
    """Pass when the updated cohort is no worse than the control within the margins."""
    evidence = {
        "updated": updated.as_evidence(),
        "control": control.as_evidence(),
        "metric": gate.metric,
        "margins": {"metric": gate.metric_margin_percent, "alerts": gate.alert_margin_percent},
    }
    if updated.regressions:
        return HealthCheck(False, ("regressions",), evidence)
    if min(updated.devices, control.devices) < gate.min_devices:
        return HealthCheck(True, ("too_few_devices",), evidence)
    reasons = []
    if updated.alert_rate > control.alert_rate * (1 + gate.alert_margin_percent / 100):
        reasons.append("alert_rate")
    worse = _metric_worse(gate, updated.metric_mean, control.metric_mean)
    if worse:
        reasons.append("metric")
    if worse is None:
        return HealthCheck(not reasons, (*reasons, "no_metric_samples"), evidence)
    return HealthCheck(not reasons, tuple(reasons), evidence)


def _metric_worse(gate: HealthGate, updated: float | None, control: float | None) -> bool | None:
    """Whether the updated mean is worse than the control's by more than the margin (None:
    one cohort has no samples, nothing to compare)."""
    if updated is None or control is None:
        return None
    allowance = abs(control) * gate.metric_margin_percent / 100
    if gate.higher_is_better:
        return updated < control - allowance
    return updated > control + allowance
