"""The users read model as one package: its row (`row`), its ports (`port`), and per store the
table with the row's codec, its writer and its reader side by side (`sqlite`, `dynamodb`).
It serves `me` and the notifier's recipient lists.

The pure `evolve` and the projection stay in `projections.users`: they read the `User` event
names from the aggregate's module, which `read_side` must not import. The row and port names are
re-exported here (each module's `__all__`) because the API, the notifier and the tests import
them from `read_side.users`.
"""

from read_side.users import port, row
from read_side.users.port import *  # noqa: F403 - the names in port.__all__
from read_side.users.row import *  # noqa: F403

__all__ = list(port.__all__)
__all__ += row.__all__
