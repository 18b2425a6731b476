"""What the API needs of the running system: the port `create_app` takes.

The composition root (`fleetwatch`) builds the system and hands it in; the API never imports
it, so `fleetwatch` can import the API to serve it without an import cycle (issue 11). Only
what the routes and resolvers use is here: the command handlers (one service per slice), the
readers, the event log, the fan-out, read-your-writes (`wait_for`), the projections' progress
(health, metrics), the ingestion service behind `POST /ingest`, the device job routes, and
the settings authentication reads.
Read-only properties, so a dataclass field or a narrower type (a `Literal`) satisfies them.
"""

from __future__ import annotations

from typing import Protocol

from event_store.log import EventLog
from ingestion.buffer import IngestService
from ingestion.device_jobs import DeviceJobService
from ota.port import BlobStore
from read_side.alerts import AlertReader
from read_side.analytics import AnalyticsService
from read_side.dashboard import DashboardReader
from read_side.deployments import DeploymentsReader
from read_side.device_status import DeviceStatusReader
from read_side.exports import ExportsReader
from read_side.firmware import FirmwareReader
from read_side.notifications import Fanout
from read_side.telemetry import TelemetryReader
from read_side.users import UsersReader
from write_side.alert_service import AlertService
from write_side.audit_service import AuditService
from write_side.deployment_service import DeploymentService
from write_side.device_service import DeviceService
from write_side.export_service import ExportService
from write_side.firmware_service import FirmwareService
from write_side.user_service import UserService


class AuthSettings(Protocol):
    """How bearer tokens are verified (and, in development, issued): `api.auth`."""

    @property
    def jwt_secret(self) -> str: ...
    @property
    def jwks_url(self) -> str | None: ...
    @property
    def jwt_issuer(self) -> str | None: ...
    @property
    def jwt_audience(self) -> str | None: ...
    @property
    def tenant_claim(self) -> str: ...
    @property
    def roles_claim(self) -> str: ...


class ApiSettings(AuthSettings, Protocol):
    """Authentication, and what `/health` reports about the deployment."""

    @property
    def store(self) -> str: ...
    @property
    def redis_url(self) -> str | None: ...
    @property
    def shared_subscriptions(self) -> bool: ...


class ExportsSlice(Protocol):
    """Exports (docs/analytics.md 20.5): the commands and the read model."""

    @property
    def service(self) -> ExportService: ...
    @property
    def reader(self) -> ExportsReader: ...


class FleetSystem(Protocol):
    """The built system as the API sees it (`fleetwatch.system.System` implements it)."""

    @property
    def settings(self) -> ApiSettings: ...
    @property
    def device_service(self) -> DeviceService: ...
    @property
    def alert_service(self) -> AlertService: ...
    @property
    def user_service(self) -> UserService: ...
    @property
    def firmware_service(self) -> FirmwareService: ...
    @property
    def deployment_service(self) -> DeploymentService: ...
    @property
    def audit_service(self) -> AuditService:
        """As-of reads and the record of reads of the trail (docs/audit.md 19.2, 19.3)."""
        ...

    @property
    def blobs(self) -> BlobStore:
        """Firmware images: the streamed upload writes, the AWS path presigns and heads."""
        ...

    @property
    def devices(self) -> DeviceStatusReader: ...
    @property
    def telemetry(self) -> TelemetryReader: ...
    @property
    def alerts(self) -> AlertReader: ...
    @property
    def users(self) -> UsersReader | None: ...
    @property
    def firmware(self) -> FirmwareReader | None: ...
    @property
    def deployments(self) -> DeploymentsReader | None: ...
    @property
    def dashboard(self) -> DashboardReader | None: ...
    @property
    def analytics(self) -> AnalyticsService | None:
        """`POST /analytics/query` (docs/analytics.md 20.3)."""
        ...

    @property
    def exports(self) -> ExportsSlice | None:
        """`POST /analytics/export`, `GET /analytics/exports/{id}` (docs/analytics.md 20.5)."""
        ...

    @property
    def event_log(self) -> EventLog: ...
    @property
    def fanout(self) -> Fanout: ...
    @property
    def ingest(self) -> IngestService | None: ...
    @property
    def device_jobs(self) -> DeviceJobService | None:
        """The device routes of OTA (docs/firmware.md 12.5), mounted beside `POST /ingest`."""
        ...

    def wait_for(self, position: int, timeout: float = 2.0) -> bool:
        """Block until every read model has applied the feed up to `position`."""
        ...

    def positions(self) -> dict[str, int]:
        """Each projection's feed position: in memory when it runs here, else its checkpoint
        (whichever is further). Reads the store: it may raise when the store is down."""
        ...

    def position(self, name: str) -> int:
        """One projection's position, as `positions` gives it."""
        ...
