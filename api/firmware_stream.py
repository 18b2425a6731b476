"""The embedded upload's steps (docs/firmware.md section 12.1), apart from HTTP: the release's
fields, then its image streamed into the `BlobStore` writer, then `PublishFirmware`.

`StreamedRelease` is what `api.multipart_form.MultipartForm` hands the file part to: at the file
part it validates the fields sent before it (`UploadForm`: a bad field is `InvalidInput` naming
it before one byte is stored) and opens the writer; each chunk goes to the writer and to a
SHA-256 of its own. `publish` then compares the SHA-256 the client expected
(`INVALID_INPUT(sha256)`), verifies the signature against the tenant's keys (`signature`,
`keyId`) BEFORE the writer commits, so an image refused for either is never kept; commits the
blob and records `PublishFirmware`. Should the publication still be refused (the version taken
meanwhile), the blob is deleted unless it was stored before this upload began (another release
may use the same content key). Blocking: run it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field, StringConstraints

from api.auth import Principal
from api.command_path import build_command
from api.firmware_view import FirmwarePublic, FirmwareStatus
from api.inputs import Input
from api.ports import FleetSystem
from ota.port import BlobInfo, BlobWriter, Digest
from write_side.commands import DeviceType
from write_side.errors import InvalidInput
from write_side.firmware import Firmware
from write_side.firmware_commands import (
    MAX_HARDWARE_REVISIONS,
    MAX_RELEASE_NOTES,
    FirmwareVersionText,
    HardwareRevision,
    KeyId,
    PublishFirmware,
    Sha256,
)
from write_side.firmware_keys import SigningKeys
from write_side.firmware_objects import object_key
from write_side.firmware_signing import signed_message

LIST_FIELDS = ("deviceTypes", "hardwareRevisions")  # repeatable, or comma-separated
REQUIRED_FIELDS = ("firmwareVersion", "deviceTypes")


class UploadForm(Input):
    """The text fields of `POST /firmware/upload`, all before the file part."""

    firmware_version: FirmwareVersionText = Field(description="SemVer 2.0, e.g. 1.4.0.")
    device_types: Annotated[list[DeviceType], Field(min_length=1, max_length=16)] = Field(
        description="The device types it installs on (repeat the field, or comma-separated)."
    )
    hardware_revisions: (
        Annotated[list[HardwareRevision], Field(max_length=MAX_HARDWARE_REVISIONS)] | None
    ) = Field(default=None, description="The hardware revisions it installs on; none: every one.")
    release_notes: Annotated[str, StringConstraints(max_length=MAX_RELEASE_NOTES)] | None = None
    signature: str | None = Field(default=None, description="ed25519 signature, base64.")
    key_id: KeyId | None = Field(default=None, description="The signing key's id.")
    sha256: Sha256 | None = Field(
        default=None, description="The SHA-256 the client expects; a mismatch stores nothing."
    )

    @classmethod
    def of(cls, fields: Mapping[str, list[str]]) -> UploadForm:
        """From the form's fields (each a list of the values sent); empty values are unset."""
        values: dict[str, object] = {}
        for name, given in fields.items():
            if name in LIST_FIELDS:
                parts = (part.strip() for value in given for part in value.split(","))
                values[name] = [part for part in parts if part] or None  # none: unset
            elif len(given) > 1:
                values[name] = given  # a list where text is expected: named as the field
            elif given[0].strip():
                values[name] = given[0]
        return cls.parse(values)


FORM_FIELDS = tuple(info.alias or name for name, info in UploadForm.model_fields.items())


def firmware_public(firmware: Firmware) -> FirmwarePublic:
    """The release as shown, from the aggregate just saved."""
    return FirmwarePublic(
        id=firmware.id,
        firmware_version=firmware.firmware_version,
        device_types=list(firmware.device_types),
        hardware_revisions=firmware.hardware_revisions,
        filename=firmware.filename,
        size_bytes=firmware.size_bytes,
        sha256=firmware.sha256,
        key_id=firmware.key_id,
        status=FirmwareStatus(firmware.status.value),
        release_notes=firmware.release_notes,
        uploaded_at=firmware.created_on,
        withdrawn_at=firmware.withdrawn_at,
        rejection_reason=firmware.rejection_reason,
        version=firmware.version,
    )


class StreamedRelease:
    def __init__(self, system: FleetSystem, caller: Principal) -> None:
        self.system, self.caller = system, caller
        self.form: UploadForm | None = None
        self.filename = ""
        self._writer: BlobWriter | None = None
        self._digest = Digest(system.blobs.max_bytes)

    def start_file(self, fields: Mapping[str, list[str]], filename: str) -> StreamedRelease:
        """The file part begins: the fields are all there and valid, or nothing is stored."""
        for required in REQUIRED_FIELDS:
            if required not in fields:
                raise InvalidInput("required, and sent before the file part", field=required)
        self.form = UploadForm.of(fields)
        self.filename = filename
        self._writer = self.system.blobs.open_writer(
            self.caller.tenant_id, expected_sha256=self.form.sha256
        )
        return self

    def write(self, chunk: bytes) -> None:
        assert self._writer is not None
        self._digest.update(chunk)  # BlobTooLarge past the limit, as the writer's own
        self._writer.write(chunk)

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.abort()

    def publish(self) -> FirmwarePublic:
        assert self.form is not None
        assert self._writer is not None
        form, tenant = self.form, self.caller.tenant_id
        sha256 = self._digest.verify(form.sha256)
        command = build_command(
            PublishFirmware,
            {
                "version": form.firmware_version,
                "device_types": form.device_types,
                "hardware_revisions": form.hardware_revisions,
                "filename": self.filename,
                "size_bytes": self._digest.size,
                "sha256": sha256,
                "signature": form.signature,
                "key_id": form.key_id,
                "release_notes": form.release_notes,
            },
        )
        self._check_signature(command)
        existed = self.system.blobs.head(object_key(tenant, sha256)) is not None
        blob = self._writer.commit()
        try:
            saved = self.system.firmware_service.publish(command, self.caller.metadata())
        except BaseException:
            self._discard(blob, existed)
            raise
        return firmware_public(saved.aggregate)

    def _check_signature(self, command: PublishFirmware) -> None:
        """What `FirmwareService.publish` checks first, asked before the blob is kept."""
        tenant = self.caller.tenant_id
        keys = self.system.firmware_service.signing_keys(tenant) or SigningKeys.open(tenant)
        message = signed_message(
            command.sha256, command.size_bytes, command.version, command.device_types
        )
        keys.check(message, command.signature, command.key_id)

    def _discard(self, blob: BlobInfo, existed: bool) -> None:
        if not existed:
            self.system.blobs.delete(blob.key)
