"""boto3 plumbing shared by the SES and SNS senders: clients with bounded timeouts, and the
translation of botocore errors into delivery results."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from notifications.port import DeliveryResult

THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "Throttled",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
    }
)


def aws_client(service: str, region: str, endpoint_url: str | None = None) -> Any:
    """A low-level client (thread-safe) with short timeouts; botocore retries a little itself."""
    config = Config(
        connect_timeout=5,
        read_timeout=10,
        retries={"mode": "standard", "max_attempts": 2},
    )
    return boto3.session.Session().client(
        service, region_name=region, endpoint_url=endpoint_url, config=config
    )


def result_of_error(error: Exception, retryable: Collection[str] = ()) -> DeliveryResult:
    """Throttling, server errors, network trouble and `retryable` codes -> retry; else failed."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", "Unknown"))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        message = f"{code}: {error.response.get('Error', {}).get('Message', '')}".strip()
        if code in THROTTLING or code in retryable or status >= 500:
            return DeliveryResult.retry(message)
        return DeliveryResult.failed(message)
    if isinstance(error, BotoCoreError):  # endpoint unreachable, timeouts, ...
        return DeliveryResult.retry(f"{type(error).__name__}: {error}")
    raise error
