"""Email through Amazon SES (API v2, `SendEmail`). The notification key travels as an email
tag and as a header, so bounces, complaints and the recipient's mail client can tie a message
to its notification (SES itself has no idempotency token)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from notifications.aws import aws_client, result_of_error
from notifications.port import DeliveryResult, NotificationSender
from write_side.notifications import Notification

KEY_HEADER = "X-Fleetwatch-Notification-Key"
KEY_TAG = "fleetwatch_notification_key"
RETRYABLE = frozenset({"LimitExceededException", "SendingPausedException"})


class SESEmailSender(NotificationSender):
    def __init__(self, client: Any, from_address: str, configuration_set: str | None = None):
        self.client = client
        self.from_address = from_address
        self.configuration_set = configuration_set

    @classmethod
    def connect(
        cls, from_address: str, region: str, endpoint_url: str | None = None
    ) -> SESEmailSender:
        return cls(aws_client("sesv2", region, endpoint_url), from_address)

    def send(self, notification: Notification) -> DeliveryResult:
        request: dict[str, Any] = {
            "FromEmailAddress": self.from_address,
            "Destination": {"ToAddresses": [notification.address]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": notification.subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": notification.body, "Charset": "UTF-8"}},
                    "Headers": [{"Name": KEY_HEADER, "Value": notification.key}],
                }
            },
            "EmailTags": [
                {"Name": KEY_TAG, "Value": notification.key},
                {"Name": "severity", "Value": notification.severity},
            ],
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        try:
            response = self.client.send_email(**request)
        except (ClientError, BotoCoreError) as e:
            return result_of_error(e, RETRYABLE)
        return DeliveryResult.sent(provider_id=str(response.get("MessageId")))
