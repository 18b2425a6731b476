"""What the alerting process manager knows besides the policy: current rules and device facts,
indexed so a telemetry batch only meets the rules that can decide something about it.

Per device a plan is computed once (and again when the tenant's rules or the device change):
the tenant's enabled rules whose scope matches the device, by metric, plus its absence rules
(they apply to every batch: any reading restarts their timer). A batch is then evaluated
against the absence rules and the rules of the metrics it carries, not against every rule of
the tenant (the benchmark runs 100 rules). Devices in the scope of the same rules share one plan.
After a device's tags or type change, its next batch is evaluated against all the tenant's rules,
so the policy retires the pairs that no longer apply.
No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

from write_side.alert_rules import Absence, RuleVersion
from write_side.alerting_policy import DeviceFacts
from write_side.alerting_watch import applies


@dataclass
class _Plan:
    generation: int
    by_metric: dict[str, list[RuleVersion]]
    always: list[RuleVersion]


@dataclass
class RuleIndex:
    rules: dict[UUID, RuleVersion] = field(default_factory=dict)  # current, not deleted
    devices: dict[UUID, DeviceFacts] = field(default_factory=dict)  # not decommissioned
    _by_tenant: dict[str, dict[UUID, RuleVersion]] = field(default_factory=dict)
    _generation: dict[str, int] = field(default_factory=dict)
    _plans: dict[UUID, _Plan] = field(default_factory=dict)
    # Plans by (tenant, generation, the ids of the rules in the device's scope): the devices a
    # tenant's rules treat alike share one (1.3 KB per device each, issue 14: 100,000 devices).
    _shared: dict[tuple[str, int, tuple[int, ...]], _Plan] = field(default_factory=dict)
    _rescope: set[UUID] = field(default_factory=set)

    def put_rule(self, rule: RuleVersion) -> None:
        self.rules[rule.rule_id] = rule
        self._by_tenant.setdefault(rule.tenant_id, {})[rule.rule_id] = rule
        self._bump(rule.tenant_id)

    def remove_rule(self, rule_id: UUID) -> RuleVersion | None:
        rule = self.rules.pop(rule_id, None)
        if rule is not None:
            self._by_tenant.get(rule.tenant_id, {}).pop(rule_id, None)
            self._bump(rule.tenant_id)
        return rule

    def put_device(self, device: DeviceFacts) -> None:
        old = self.devices.get(device.device_id)
        self.devices[device.device_id] = device
        self._plans.pop(device.device_id, None)
        if old is not None and old != device:
            self._rescope.add(device.device_id)

    def remove_device(self, device_id: UUID) -> None:
        self.devices.pop(device_id, None)
        self._plans.pop(device_id, None)
        self._rescope.discard(device_id)

    def tenant_rules(self, tenant_id: str) -> list[RuleVersion]:
        return list(self._by_tenant.get(tenant_id, {}).values())

    def rules_for(self, device: DeviceFacts, metrics: Iterable[str]) -> list[RuleVersion]:
        """The rules to evaluate a batch of `device` carrying `metrics` against."""
        if device.device_id in self._rescope:
            self._rescope.discard(device.device_id)
            return self.tenant_rules(device.tenant_id)
        plan = self._plan(device)
        chosen = list(plan.always)
        for metric in set(metrics):
            chosen += plan.by_metric.get(metric, ())
        return chosen

    def absence_rules(self, device: DeviceFacts) -> list[RuleVersion]:
        return list(self._plan(device).always)

    def devices_of(self, tenant_id: str) -> list[DeviceFacts]:
        return [d for d in self.devices.values() if d.tenant_id == tenant_id]

    def _plan(self, device: DeviceFacts) -> _Plan:
        generation = self._generation.get(device.tenant_id, 0)
        plan = self._plans.get(device.device_id)
        if plan is not None and plan.generation == generation:
            return plan
        scoped = [rule for rule in self.tenant_rules(device.tenant_id) if applies(rule, device)]
        key = (device.tenant_id, generation, tuple(map(id, scoped)))  # (the plan holds them)
        plan = self._shared.get(key)
        if plan is None:
            plan = self._shared[key] = _Plan(generation, {}, [])
            for rule in scoped:
                condition = rule.definition.condition
                if isinstance(condition, Absence):
                    plan.always.append(rule)
                else:
                    plan.by_metric.setdefault(condition.metric, []).append(rule)
        self._plans[device.device_id] = plan
        return plan

    def _bump(self, tenant_id: str) -> None:
        self._generation[tenant_id] = self._generation.get(tenant_id, 0) + 1
        self._shared = {k: plan for k, plan in self._shared.items() if k[0] != tenant_id}
