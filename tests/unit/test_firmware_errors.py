"""The firmware errors as a client sees them (api/errors.py): their codes and HTTP statuses."""

from __future__ import annotations

from api.errors import describe
from write_side.deployment_errors import FirmwareUnavailable, FirmwareVersionTaken, UploadExpired


def test_firmware_errors_are_conflicts_with_their_codes() -> None:
    taken = describe(FirmwareVersionTaken("1.4.0 is taken for pump", "pump", "1.4.0"))
    unavailable = describe(FirmwareUnavailable("firmware x is WITHDRAWN"))
    assert taken is not None
    assert unavailable is not None
    assert (taken.code, taken.http_status) == ("FIRMWARE_VERSION_TAKEN", 409)
    assert (unavailable.code, unavailable.http_status) == ("FIRMWARE_UNAVAILABLE", 409)
    assert taken.message == "1.4.0 is taken for pump"


def test_a_confirmation_too_late_is_gone() -> None:
    late = describe(UploadExpired("firmware x's upload expired at 12:05"))
    assert late is not None
    assert (late.code, late.http_status) == ("UPLOAD_EXPIRED", 410)
