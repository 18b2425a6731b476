"""Analytics over telemetry (docs/analytics.md 20.2, 20.3): the Parquet files the `parquet`
consumer writes (`files`), the planner of a query (`plan`, pure), its answers from the rollups
(`rollups`) or from DuckDB over the files (`duck`), and the service that puts them together
(`service`). The consumer itself is `projections.parquet` (it reads the event name from the
aggregate's module, which `read_side` must not import)."""

from read_side.analytics import files, result, service
from read_side.analytics import plan as planning
from read_side.analytics.duck import QueryBudgetExceeded
from read_side.analytics.files import *  # noqa: F403 - the names in files.__all__
from read_side.analytics.plan import *  # noqa: F403
from read_side.analytics.result import *  # noqa: F403
from read_side.analytics.service import *  # noqa: F403

__all__ = ["QueryBudgetExceeded"]
__all__ += files.__all__
__all__ += planning.__all__
__all__ += result.__all__
__all__ += service.__all__
