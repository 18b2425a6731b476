"""GraphQL types of the large-upload path (`api.firmware_upload`): `FirmwareUpload`, derived
from `FirmwareUploadPublic`, whose `firmware` is the `Firmware` type the firmware slice derives
(`api.graphql.firmware_types`, imported first so it is registered)."""

from __future__ import annotations

from api.firmware_upload import FirmwareUploadPublic
from api.graphql import firmware_types  # noqa: F401  (registers `Firmware`)
from api.graphql.derive import part_type

FirmwareUpload = part_type(FirmwareUploadPublic, "FirmwareUpload")
