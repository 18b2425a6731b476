"""An alert's states and the transitions it records, declared once for every layer (issue 11),
as `write_side.severity` declares the severities: the aggregate (`write_side.alerts`) keeps its
status in `AlertStatus`, the alerts projection names each alert event's `Transition`, and the
read model (`read_side.alerts`) checks its filters against both lists. Apart from the aggregate's
module because `read_side` imports no aggregate."""

from __future__ import annotations

from typing import Literal, get_args

AlertStatus = Literal["open", "acknowledged", "resolved"]  # open -> acknowledged -> resolved
STATES: tuple[AlertStatus, ...] = get_args(AlertStatus)
Transition = Literal["raised", "repeated", "acknowledged", "resolved", "escalated"]  # one per event
TRANSITIONS: tuple[Transition, ...] = get_args(Transition)
