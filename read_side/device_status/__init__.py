"""The device-status read model as one package: its row (`row`), its ports (`port`), and per
store the table definition with the writer and the reader of that table side by side (`sqlite`,
`dynamodb`; the row's codecs in `columns`, derived from its fields by `read_side.columns`), plus
the alert -> device links the projection keeps (`alert_links`).

The pure `evolve` and the projection glue stay in `projections.device_status*`: they read the
write side's event names, which live in the aggregates' modules, and `read_side` imports no
aggregate. The row and the port names are re-exported here because the API, the other read
models (`Page`, `check_page_size`) and the tests import them from `read_side.device_status`:
the names each of those modules lists in its `__all__`.
"""

from read_side import paging
from read_side.device_status import port, row
from read_side.device_status.port import *  # noqa: F403 - the names in port.__all__
from read_side.device_status.row import *  # noqa: F403
from read_side.paging import *  # noqa: F403

__all__ = list(port.__all__)
__all__ += row.__all__
__all__ += paging.__all__
