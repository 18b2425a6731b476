"""The deployments read model as one package: its rows (`row`), its ports (`port`), and per
store the tables with the rows' codecs, the writer and the reader side by side. It serves
`deployment`, `deployments`, `deploymentProgress`, `execution`, `executionHistory`,
`fleetCompliance` and the device's next job (docs/firmware.md section 12.7): the deployments,
their executions with their history, and per device what compliance needs.

The pure `evolve` and the projection are `projections.deployments`: they read the
`Deployment`, `DeploymentExecution`, `Device` and `Telemetry` event names from the aggregates'
modules, which `read_side` must not import.
"""

from read_side.deployments import port, row
from read_side.deployments.port import *  # noqa: F403 - the names in port.__all__
from read_side.deployments.row import *  # noqa: F403

__all__ = list(port.__all__)
__all__ += row.__all__
