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

from read_side.alerts import port, records, rows
from read_side.alerts.port import *  # noqa: F403 - the names in port.__all__
from read_side.alerts.records import *  # noqa: F403
from read_side.alerts.rows import *  # noqa: F403
from write_side.alert_lifecycle import STATES, TRANSITIONS
from write_side.severity import SEVERITIES

__all__ = ["SEVERITIES", "STATES", "TRANSITIONS"]
__all__ += port.__all__
__all__ += records.__all__
__all__ += rows.__all__
