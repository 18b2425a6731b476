"""The exports read model as one package (docs/analytics.md 20.5): its row (`row`), its ports
(`port`), and per store the table with the row's codec, its writer and its reader side by side
(`sqlite`, `dynamodb`). It serves `GET /analytics/exports/{id}`, GraphQL `export(id)` and the
`exportProgress` subscription (its change notices).

The pure `evolve` and the projection are in `projections.export_views`: they read the `Export`
event names from the aggregate's module, which `read_side` must not import.
"""

from read_side.exports import port, row
from read_side.exports.port import *  # noqa: F403 - the names in port.__all__
from read_side.exports.row import *  # noqa: F403

__all__ = list(port.__all__)
__all__ += row.__all__
