"""GraphQL inputs of the firmware and deployments slices that are not an operation's own,
derived from the one definition of each in `api.deployment_inputs`
(`api.graphql.derive.derived_input`): the parts of a new deployment. The mutations' inputs and
the filters are derived from the operation tables (`api.firmware`, `api.deployments`) by
`api.graphql.fields`; this module is imported before them (`api.graphql.schema`)."""

from __future__ import annotations

from api.deployment_inputs import (
    DeploymentFilterBody,
    DeploymentTargetBody,
    HealthGateBody,
    RateBody,
    WaveBody,
    WindowBody,
)
from api.graphql.derive import derived_input


@derived_input(DeploymentFilterBody, name="DeploymentTargetFilterInput")
class DeploymentTargetFilterInput:
    pass


@derived_input(DeploymentTargetBody, name="DeploymentTargetInput")
class DeploymentTargetInput:
    pass


@derived_input(WaveBody, name="WaveInput")
class WaveInput:
    pass


@derived_input(RateBody, name="RateInput")
class RateInput:
    pass


@derived_input(WindowBody, name="WindowInput")
class WindowInput:
    pass


@derived_input(HealthGateBody, name="HealthGateInput")
class HealthGateInput:
    pass
