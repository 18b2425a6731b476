"""Transports in front of the one telemetry command handler: MQTT, HTTP, AWS IoT Core."""
