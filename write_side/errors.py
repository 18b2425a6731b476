"""Typed domain errors. The API maps each `code` to a GraphQL error code and an HTTP status."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a command can end with; nothing is stored when one is raised."""

    code = "DOMAIN_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    code = "NOT_FOUND"


class AlreadyDecommissioned(DomainError):
    code = "ALREADY_DECOMMISSIONED"


class InvalidInput(DomainError):
    code = "INVALID_INPUT"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ConcurrencyConflict(DomainError):
    """The stream moved on since the caller read it (expected version mismatch or a lost race)."""

    code = "CONFLICT"

    def __init__(self, message: str, expected: int | None = None, actual: int | None = None):
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class Forbidden(DomainError):
    code = "FORBIDDEN"


class InvalidTelemetry(DomainError):
    """A whole telemetry message is unusable (no device or message id, oversize, not an object).
    Problems with single readings are not errors: they are returned as rejections."""

    code = "INVALID_TELEMETRY"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AlertRuleDeleted(DomainError):
    code = "ALERT_RULE_DELETED"


class AlertAlreadyResolved(DomainError):
    """Resolved alerts are immutable; a recurrence opens a new alert (the next episode)."""

    code = "ALERT_RESOLVED"


class AlertAlreadyAcknowledged(DomainError):
    code = "ALERT_ACKNOWLEDGED"


class ReadOnly(DomainError):
    """This process serves read models as of a past position and records nothing but the reads
    of the trail (`fleetwatch serve --as-of`, docs/audit.md 19.2)."""

    code = "READ_ONLY"
