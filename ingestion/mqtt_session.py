"""The MQTT subscriber session both our subscribers share (`ingestion/mqtt.py` for telemetry,
`ingestion/jobs_mqtt.py` for job updates): a paho-mqtt 2.x client on MQTT v5 with a persistent
session (clean start off, session expiry 1 h, so QoS 1 messages not yet acknowledged wait in the
broker while we are away), subscribed at QoS 1, through a shared subscription
(`$share/<group>/<topic>`) when a group is given, so several processes split the load.

`start` returns once the broker confirmed the subscription (SUBACK), and raises otherwise; a
subclass handles `_on_message`, and may reset its per-connection state in `_on_session`, which
runs on every accepted connection before the subscription is sent.

A session outlives its process: while it exists, the broker keeps giving it its share of the
group's messages (Mosquitto queues them for the absent member, then drops what exceeds its
`max_queued_messages`), which only that client id coming back receives. A process that stops
for good (a replica scaled away, a client id not used again) must have its session ended:
`end_session` (`fleetwatch ingest end-session`).

`mqtts://host:port` connects over TLS (`MqttTls`: the CA of the broker's certificate, and this
client's own certificate where the broker requires one, docs/ingestion.md: certificates); a user
and password in the URL are the connection's credentials.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 3600


@dataclass(frozen=True)
class MqttTls:
    """TLS files for an `mqtts://` broker: the CA that signed the broker's certificate (None:
    the system's CAs), and this client's certificate and key (where the broker requires one)."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


def new_client(
    url: str, client_id: str, tls: MqttTls | None = None, *, manual_ack: bool = False
) -> mqtt.Client:
    """A paho MQTT v5 client for `url` (`mqtt://` or `mqtts://`, credentials from the URL)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"an MQTT URL is mqtt:// or mqtts://, not {parsed.scheme}://")
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=manual_ack,
    )
    if parsed.username:
        password = unquote(parsed.password) if parsed.password else None
        client.username_pw_set(unquote(parsed.username), password)
    if parsed.scheme == "mqtts":
        files = tls or MqttTls()
        client.tls_set(
            ca_certs=str(files.ca_file) if files.ca_file else None,
            certfile=str(files.cert_file) if files.cert_file else None,
            keyfile=str(files.key_file) if files.key_file else None,
        )
    return client


class MqttSubscriber:
    """A persistent-session subscriber on one topic; subclasses say what a message does."""

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        topic: str,
        shared_group: str | None,
        manual_ack: bool = False,
        receive_maximum: int | None = None,
        tls: MqttTls | None = None,
    ) -> None:
        self.host, self.port = broker_address(url)
        self.topic = topic
        self.subscription = f"$share/{shared_group}/{topic}" if shared_group else topic
        self.connected = threading.Event()  # set once connected AND subscribed (SUBACK)
        self._receive_maximum = receive_maximum
        self.client = new_client(url, client_id, tls, manual_ack=manual_ack)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self.connected.set()

    def start(self, timeout: float = 10.0) -> None:
        """Connect (resuming the session) and subscribe; returns once the broker confirmed the
        subscription, raises if that did not happen in time."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        if self._receive_maximum is not None:
            props.ReceiveMaximum = self._receive_maximum
        try:
            self.client.connect(
                self.host, self.port, keepalive=30, clean_start=False, properties=props
            )
        except OSError as e:  # refused, or a TLS handshake the broker failed
            msg = f"MQTT broker at {self.host}:{self.port} did not accept the connection: {e}"
            raise ConnectionError(msg) from e
        self.client.loop_start()
        if not self.connected.wait(timeout):
            self.stop()
            msg = f"MQTT broker at {self.host}:{self.port} did not accept the connection"
            raise ConnectionError(msg)

    def stop(self) -> None:
        """Disconnect; unacknowledged messages stay in the broker's session."""
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, _: Any, __: Any, reason: ReasonCode, ___: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT connection refused: %s", reason)
            return
        self._on_session()
        client.subscribe(self.subscription, qos=1)

    def _on_session(self) -> None:
        """A new connection was accepted (before subscribing): reset per-connection state."""

    def _on_disconnect(self, *_: Any) -> None:
        self.connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage, /) -> None:
        raise NotImplementedError


def end_session(
    url: str, client_id: str, timeout: float = 10.0, tls: MqttTls | None = None
) -> bool:
    """End the broker's session of `client_id` (connect with clean start, session expiry 0,
    disconnect): it leaves its shared subscriptions and what was queued for it is discarded.
    False when the broker did not accept the connection in time."""
    client = new_client(url, client_id, tls)
    accepted = threading.Event()
    client.on_connect = lambda *args: accepted.set() if not args[3].is_failure else None
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0
    client.connect(*broker_address(url), keepalive=30, clean_start=True, properties=props)
    client.loop_start()
    try:
        return accepted.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()


def broker_address(url: str) -> tuple[str, int]:
    """Host and port of `mqtt://host:port` (127.0.0.1, and 1883 or for mqtts:// 8883, when
    absent)."""
    parsed = urlparse(url)
    default = 8883 if parsed.scheme == "mqtts" else 1883
    return parsed.hostname or "127.0.0.1", parsed.port or default
