"""The errors of firmware releases, deployments and their executions, each with its stable
`code` (the API maps codes to GraphQL codes and HTTP statuses: `api/errors.py` has the firmware
ones; the others join once the slice is wired). Nothing is stored when one is raised. Design:
docs/firmware.md 12.6.
"""

from __future__ import annotations

from write_side.errors import DomainError


class StaleUpdate(DomainError):
    """A device update whose sequence number is below one already applied, and not itself
    applied (a repeat of an applied one is a duplicate, answered without an error)."""

    code = "STALE_UPDATE"


class InvalidTransition(DomainError):
    """The input makes no sense in the current state: an update stepping back or arriving after
    the end, a cancel of a running install, resuming a deployment that is not paused."""

    code = "INVALID_TRANSITION"


class DeploymentFinished(DomainError):
    """A command on a deployment that completed, was aborted or was canceled."""

    code = "DEPLOYMENT_FINISHED"


class FirmwareUnavailable(DomainError):
    """A new deployment of a release that is not available (pending, rejected or withdrawn)."""

    code = "FIRMWARE_UNAVAILABLE"


class FirmwareVersionTaken(DomainError):
    """A release publishing a version already published for one of its device types."""

    code = "FIRMWARE_VERSION_TAKEN"

    def __init__(self, message: str, device_type: str, version: str) -> None:
        super().__init__(message)
        self.device_type = device_type
        self.version = version


class DeviceBusy(DomainError):
    """Notifying an execution while another execution is active on its device: it stays
    QUEUED (a second deployment is queued, not refused: docs/firmware.md 12.2)."""

    code = "DEVICE_BUSY"

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


class UploadExpired(DomainError):
    """A presigned upload confirmed after its deadline (the URL's expiry plus a grace period),
    or after the release was expired for it: the client requests a new upload (HTTP 410)."""

    code = "UPLOAD_EXPIRED"
