"""The telemetry read model as one package: raw readings and pre-aggregated rollups per device
and metric. Its rows and time arithmetic (`row`), what one event adds and its pure fold
(`batch`), its ports with the history query and cursors (`port`), and per store the tables with
their writer and their reader side by side (`sqlite`; `dynamodb`, its keys and item codecs
`dynamodb_items`).

The projection stays in `projections.telemetry`: it picks the `Telemetry.BatchRecorded` events
by the name the aggregate's module exports, which `read_side` must not import. The names below
are re-exported because the API, the composition root and the tests import them from
`read_side.telemetry`.
"""

from read_side.telemetry import port, row
from read_side.telemetry.batch import DeviceBatch, fold
from read_side.telemetry.port import *  # noqa: F403 - the names in port.__all__
from read_side.telemetry.row import *  # noqa: F403

__all__ = ["DeviceBatch", "fold"]
__all__ += port.__all__
__all__ += row.__all__
