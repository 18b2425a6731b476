"""The opt-in local deployment (issue 15 item 7; docs/operations.md 15.1): `scripts/local_deploy`
deploys the stage dev to the emulator and runs its smoke test through the stack's edges (a
Cognito sign-in, a device over the HTTP API, telemetry through the IoT rule, the status
projected and pushed to a WebSocket subscriber, bad input refused on each of those paths with
nothing changed, an alert raised, queued and sent, an OTA job taken over MQTT: the job document
sent to the device, its update accepted, an impostor's rejected).

Collected only where the emulator is installed (`.emulator/venv`, which the script's first run
makes; tests/emulator/conftest.py); there it must pass."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STEPS = (
    "signed in through Cognito",
    "a device without a name refused over the HTTP API: 422 BAD_USER_INPUT",
    "registered, credential issued",
    "subscribed to device status over the WebSocket API (a bad one refused)",
    "the subscriber was sent",
    "the device's status shows the reading",
    "raised alert",
    "was queued and sent",
    "its history holds the good messages only",
    "the device was sent job",
    "was accepted by the jobs function (IoT rule), one with a wrong token rejected UNAUTHENTICATED",
    "smoke: passed",
)


def free_port() -> int:
    """A port free with the next one (the emulator's IoT broker listens there)."""
    while True:
        with socket.socket() as s, socket.socket() as after:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
            try:
                after.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port


@pytest.mark.timeout(900)
def test_the_stack_deployed_to_the_emulator_passes_its_smoke_run() -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "local_deploy"), "--port", str(free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=840,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for step in STEPS:
        assert step in done.stdout, step
