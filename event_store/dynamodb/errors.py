"""Translation of boto3/botocore errors into the `eventsourcing` persistence errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
)
from eventsourcing.persistence import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)

MAX_TRANSACTION_ACTIONS = 100
"""DynamoDB's limit of actions (items) in one TransactWriteItems call."""

MAX_STREAMS_PER_CALL = 40
"""A safe cap on the streams (aggregates) of one ``insert_events`` call for callers that batch:
each stream takes a stream-head action and at least one commit item, so a call of small events
fits up to 49 streams; 40 leaves room for tracking and for streams with several chunks."""

MAX_TRANSACTION_BYTES = 4_000_000
"""Our budget for one transaction's payload (DynamoDB's limit is 4 MiB, i.e. 4,194,304 bytes;
the margin covers attribute names and our estimates)."""

# Error codes that say "not done, try again later" (the request was not applied).
RETRYABLE_ERROR_CODES = frozenset(
    {
        "TransactionConflictException",
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
    }
)

# Error codes after which the outcome is unknown: retry with the same ClientRequestToken.
AMBIGUOUS_ERROR_CODES = frozenset(
    {"InternalServerError", "ServiceUnavailable", "TransactionInProgressException"}
)

# Cancellation reason codes of TransactionCanceledException that are worth retrying.
RETRYABLE_CANCELLATION_CODES = frozenset(
    {"TransactionConflict", "ProvisionedThroughputExceeded", "ThrottlingError"}
)


class TransactionLimitError(ProgrammingError):
    """One call needs more than one DynamoDB transaction can hold (100 actions or ~4 MB).

    Nothing was written. Split the call (fewer aggregates per save, or fewer/smaller events).
    """


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def cancellation_reasons(error: ClientError) -> list[dict[str, Any]]:
    reasons = error.response.get("CancellationReasons") or []
    return [dict(r) for r in reasons]


def translate(error: Exception) -> PersistenceError:
    """The library error that best describes a boto3/botocore error."""
    if isinstance(error, PersistenceError):
        return error
    if isinstance(error, ClientError):
        code = error_code(error)
        message = f"{code}: {error}"
        if code == "ConditionalCheckFailedException":
            return IntegrityError(message)
        if code in {"ResourceNotFoundException", "ResourceInUseException"}:
            return ProgrammingError(message)
        if code == "ValidationException":
            text = str(error)
            if "size" in text.lower() and "exceed" in text.lower():
                return DataError(message)
            return ProgrammingError(message)
        if code == "IdempotentParameterMismatchException":
            return ProgrammingError(message)
        if code in {
            "UnrecognizedClientException",
            "AccessDeniedException",
            "MissingAuthenticationTokenException",
            "InvalidSignatureException",
        }:
            return InterfaceError(message)
        return OperationalError(message)
    if isinstance(error, ParamValidationError):
        return ProgrammingError(f"{type(error).__name__}: {error}")
    if isinstance(error, NoCredentialsError | NoRegionError):
        return InterfaceError(f"{type(error).__name__}: {error}")
    if isinstance(error, BotoCoreError):
        return OperationalError(f"{type(error).__name__}: {error}")
    return OperationalError(f"{type(error).__name__}: {error}")


@contextlib.contextmanager
def translated_errors() -> Iterator[None]:
    """Re-raise boto3/botocore errors as `eventsourcing` persistence errors."""
    try:
        yield
    except (ClientError, BotoCoreError) as e:
        raise translate(e) from e
