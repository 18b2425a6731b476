"""Tamper evidence for the event history (docs/audit.md sections 19.4, 19.5)."""
