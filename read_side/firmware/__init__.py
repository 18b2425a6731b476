"""The firmware read model as one package: its rows (`row`), its ports (`port`), and per store
the tables with the rows' codecs, the writer and the reader side by side (`sqlite`,
`dynamodb`). It serves `firmware`, `firmwareReleases`, `signingKeys`, `GET /firmware*` and the
latest release per device type (docs/firmware.md section 12.7).

The pure `evolve` and the projection are `projections.firmware`: they read the `Firmware` and
`SigningKeys` event names from the aggregates' modules, which `read_side` must not import.
"""

from read_side.firmware import port, row
from read_side.firmware.port import *  # noqa: F403 - the names in port.__all__
from read_side.firmware.row import *  # noqa: F403

__all__ = list(port.__all__)
__all__ += row.__all__
