"""Commands of the alerts slice: manage alert rules (admins), handle alerts (operators).

A rule's definition is the domain's `RuleDefinition`; build it with
`write_side.alert_rules.parse_rule_definition` (which names the bad field) before the command.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints

from write_side.alert_rules import RuleDefinition
from write_side.alerts import MAX_NOTE
from write_side.commands import Command

Note = Annotated[str, StringConstraints(max_length=MAX_NOTE)]
Version = Annotated[int, Field(ge=1)]


class CreateAlertRule(Command):
    definition: RuleDefinition


class ReviseAlertRule(Command):
    """Replace the definition (the full definition, never a diff); `enabled` toggles."""

    rule_id: UUID
    definition: RuleDefinition
    expected_version: Version | None = None


class DeleteAlertRule(Command):
    """Soft delete: the rule stops raising; its open alerts are resolved by the policy."""

    rule_id: UUID
    expected_version: Version | None = None


class AcknowledgeAlert(Command):
    alert_id: UUID
    note: Note | None = None
    expected_version: Version | None = None


class ResolveAlert(Command):
    alert_id: UUID
    note: Note | None = None
    expected_version: Version | None = None
