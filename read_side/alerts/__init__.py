"""The alert read models as one package: alert rules (current revision, with their history),
alerts (current state of each) and the alert timeline (every transition, in the order recorded).

Its rows (`rows`), its ports (`port`: the reader, the view, filters and cursors), the JSON codec
the rows are stored in (`records`), and per store the tables with the writer and the reader of
those tables side by side (`sqlite`; `dynamodb`, with its table definitions and items in
`dynamodb_items` and its query plans in `dynamodb_query`).

The pure `evolve_*` and the projection glue stay in `projections.alert_evolve` and
`projections.alert_views`: they read the write side's event names, which live in the
aggregates' modules, and `read_side` imports no aggregate. The states and transitions come
from `write_side.alert_lifecycle` and the severities from `write_side.severity` (no copies).
The names the API, the projection and the tests use are re-exported here.
"""

from read_side.alerts.port import (
    ALERT_TOPIC,
    AlertFilter,
    AlertReader,
    AlertsChanges,
    AlertsView,
    RuleFilter,
    TimelineFilter,
    check_choices,
    decode_cursor,
    encode_cursor,
)
from read_side.alerts.records import dumps, from_record, loads, to_record
from read_side.alerts.rows import AlertRow, AlertRuleRow, DeviceName, TimelineEntry, time_key
from write_side.alert_lifecycle import STATES, TRANSITIONS
from write_side.severity import SEVERITIES

__all__ = [
    "ALERT_TOPIC",
    "SEVERITIES",
    "STATES",
    "TRANSITIONS",
    "AlertFilter",
    "AlertReader",
    "AlertRow",
    "AlertRuleRow",
    "AlertsChanges",
    "AlertsView",
    "DeviceName",
    "RuleFilter",
    "TimelineEntry",
    "TimelineFilter",
    "check_choices",
    "decode_cursor",
    "dumps",
    "encode_cursor",
    "from_record",
    "loads",
    "time_key",
    "to_record",
]
