"""SMS through Amazon SNS (`Publish` to a phone number). SNS has no idempotency token for SMS
(deduplication ids exist only for FIFO topics), so a resend after a crash between the
provider's acceptance and the outbox update can reach the phone twice: the documented cost of
at-least-once delivery."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from notifications.aws import aws_client, result_of_error
from notifications.port import DeliveryResult, NotificationSender
from write_side.notifications import Notification

MAX_SMS_CHARS = 480  # three concatenated segments at most
RETRYABLE = frozenset({"KMSThrottlingException"})


class SNSSmsSender(NotificationSender):
    def __init__(self, client: Any, sender_id: str | None = None, sms_type: str = "Transactional"):
        self.client = client
        self.sender_id = sender_id
        self.sms_type = sms_type

    @classmethod
    def connect(cls, region: str, endpoint_url: str | None = None) -> SNSSmsSender:
        return cls(aws_client("sns", region, endpoint_url))

    def send(self, notification: Notification) -> DeliveryResult:
        attributes = {"AWS.SNS.SMS.SMSType": _string(self.sms_type)}
        if self.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = _string(self.sender_id)
        text = f"{notification.subject}\n{notification.body}"
        try:
            response = self.client.publish(
                PhoneNumber=notification.address,
                Message=text[:MAX_SMS_CHARS],
                MessageAttributes=attributes,
            )
        except (ClientError, BotoCoreError) as e:
            return result_of_error(e, RETRYABLE)
        return DeliveryResult.sent(provider_id=str(response.get("MessageId")))


def _string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}
