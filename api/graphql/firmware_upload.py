"""GraphQL types of the large-upload path (`api.firmware_upload`): `FirmwareUpload`, derived
from `FirmwareUploadPublic`, whose `firmware` is the `Firmware` type derived from
`FirmwarePublic` (derived here as a part unless the firmware slice's types derived it first:
import that module before this one)."""

from __future__ import annotations

from api.firmware_upload import FirmwareUploadPublic
from api.firmware_view import FirmwarePublic
from api.graphql.derive import derived_of, part_type

try:
    derived_of(FirmwarePublic)
except TypeError:
    part_type(FirmwarePublic, "Firmware")

FirmwareUpload = part_type(FirmwareUploadPublic, "FirmwareUpload")
