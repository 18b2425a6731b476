"""The dashboard read model (docs/analytics.md 20.1) as one package: its rows (`row`), the keys
of its figures (`keys`), the dashboard assembled from them (`summary`), its ports (`port`) and
per store its tables, writer and reader (`sqlite`, `dynamodb`). The pure `evolve` and the
projection are `projections.dashboard*`: they read the write side's event names."""

from read_side.dashboard import port, row, summary
from read_side.dashboard.port import *  # noqa: F403 - the names in port.__all__
from read_side.dashboard.row import *  # noqa: F403
from read_side.dashboard.summary import *  # noqa: F403

__all__ = list(port.__all__)
__all__ += row.__all__
__all__ += summary.__all__
