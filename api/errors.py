"""What a client is told about an error, for GraphQL and REST alike.

Expected errors (domain errors, invalid input, authentication) get a code a client can act on
and, for input, the field named as the client spelled it. Anything else is a bug: the adapters
log it and answer INTERNAL_SERVER_ERROR without details.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic.alias_generators import to_camel

from api.auth import Unauthenticated
from ota.errors import BlobTooLarge
from read_side.fanout_memory import SubscriptionEnded
from write_side.errors import DomainError, InvalidInput

BAD_USER_INPUT = "BAD_USER_INPUT"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
INTERNAL_MESSAGE = "Internal server error"

# The one table of codes with their own HTTP status (any other code is 400); GraphQL carries
# the code alone, in `extensions.code`. REST also reads it backwards, for the statuses of the
# framework's own errors (an unknown path is 404 NOT_FOUND).
HTTP_STATUS: Mapping[str, int] = {
    BAD_USER_INPUT: 422,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "NOT_YET_CREATED": 404,  # an as-of before the entity existed (docs/audit.md 19.2)
    "METHOD_NOT_ALLOWED": 405,
    "CONFLICT": 409,
    "ALREADY_DECOMMISSIONED": 409,
    "ALERT_RULE_DELETED": 409,
    "ALERT_RESOLVED": 409,
    "ALERT_ACKNOWLEDGED": 409,
    # the firmware blob stores (ota/errors.py)
    "PAYLOAD_TOO_LARGE": 413,
    "RANGE_NOT_SATISFIABLE": 416,
    "PRESIGNED_URL_INVALID": 403,
    "PRESIGN_NOT_SUPPORTED": 501,
    "FIRMWARE_VERSION_TAKEN": 409,
    "FIRMWARE_UNAVAILABLE": 409,
    "DEPLOYMENT_FINISHED": 409,
    "INVALID_TRANSITION": 422,
    "STALE_UPDATE": 409,
    "DEVICE_BUSY": 409,
    "UNAVAILABLE": 503,  # a read model this process does not run (`api.firmware_rows`)
    "IMAGE_NOT_UPLOADED": 409,  # a presigned upload confirmed before its PUT
    "UPLOAD_EXPIRED": 410,  # a presigned upload confirmed after its deadline
    "QUERY_BUDGET_EXCEEDED": 422,  # an analytics query over its time budget (docs 20.3)
    "READ_ONLY": 403,  # a command to a server of kept read models (`serve --as-of`, 19.2)
}


@dataclass(frozen=True)
class ClientError:
    code: str
    message: str
    field: str | None = None

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)


def describe(error: BaseException, field_names: Mapping[str, str] = {}) -> ClientError | None:
    """The client's view of an expected error; None when `error` is unexpected.

    `field_names` renames command fields for the client (GraphQL's device_id -> id); other
    fields are put in camelCase (REST's device_id -> deviceId).
    """
    if isinstance(error, Unauthenticated):
        return ClientError(error.code, error.message)
    if isinstance(error, InvalidInput):
        loc = () if error.field is None else (error.field,)
        return invalid_input(loc, error.message, field_names)
    if isinstance(error, BlobTooLarge):  # names the upload's part, `file`
        return ClientError(error.code, error.message, error.field)
    if isinstance(error, DomainError):
        return ClientError(error.code, error.message)
    if isinstance(error, SubscriptionEnded):
        return ClientError(error.code, str(error))
    return None


def invalid_input(
    loc: Sequence[int | str], message: str, field_names: Mapping[str, str] = {}
) -> ClientError:
    field = client_field(loc, field_names)
    return ClientError(BAD_USER_INPUT, f"{field}: {message}" if field else message, field)


def client_field(loc: Sequence[int | str], field_names: Mapping[str, str]) -> str | None:
    """The top-level field a validation error location points at, as the client names it."""
    name = next((part for part in loc if isinstance(part, str)), None)
    if name is None:
        return None
    return field_names.get(name) or (to_camel(name) if "_" in name else name)
