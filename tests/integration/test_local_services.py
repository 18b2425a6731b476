"""scripts/local_services.py with the real redis-server and mosquitto binaries, on free ports of
their own: the shared Redis and Mosquitto on the standard ports are never touched."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import redis
from dynamodb_local import free_port
from local_services import (
    MOSQUITTO,
    REDIS,
    SEARCH_PATH,
    ServiceUnavailable,
    answers,
    install_command,
    running,
)
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[2]


def test_redis_is_started_on_a_free_port_and_stopped_at_the_end() -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with running(REDIS, url) as started:
        assert started
        client = redis.Redis.from_url(url)
        client.set("k", "v")
        assert client.get("k") == b"v"
        client.close()
    assert not answers(REDIS, "127.0.0.1", port)


def test_mosquitto_is_started_on_a_free_port_and_stopped_at_the_end() -> None:
    port = free_port()
    with running(MOSQUITTO, f"mqtt://127.0.0.1:{port}") as started:
        assert started
        got = threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}")
        client.on_message = lambda *_: got.set()
        client.connect("127.0.0.1", port)
        client.loop_start()
        client.subscribe("t/x", qos=1)
        client.publish("t/x", b"hello", qos=1).wait_for_publish(5)
        assert got.wait(5), "no message back from the started broker"
        client.disconnect()
        client.loop_stop()
    assert not answers(MOSQUITTO, "127.0.0.1", port)


def test_a_service_already_answering_is_used_and_never_stopped() -> None:
    url = f"redis://127.0.0.1:{free_port()}"
    with running(REDIS, url) as outer:
        with running(REDIS, url) as inner:
            assert (outer, inner) == (True, False)
        assert answers(REDIS, "127.0.0.1", int(url.rsplit(":", 1)[1]))


def test_a_missing_binary_is_installed_then_started(tmp_path: Path) -> None:
    installed: list[Sequence[str]] = []
    real = shutil.which("redis-server", path=SEARCH_PATH)
    assert real is not None

    def install(packages: Sequence[str]) -> None:  # what apt-get leaves behind: the binary
        installed.append(packages)
        (tmp_path / "redis-server").symlink_to(real)

    port = free_port()
    with running(REDIS, f"redis://127.0.0.1:{port}", install=install, search_path=str(tmp_path)):
        assert answers(REDIS, "127.0.0.1", port)
    assert installed == [["redis-server"]]


def test_an_install_that_leaves_no_binary_is_a_clear_error(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}"
    with (
        pytest.raises(ServiceUnavailable, match="redis-server installed but no redis-server"),
        running(REDIS, url, install=lambda _: None, search_path=str(tmp_path)),
    ):
        pytest.fail("entered")


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port held by something that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_port_held_by_something_else_is_a_clear_error(silent_listener: int) -> None:
    with (
        pytest.raises(ServiceUnavailable, match=r"Redis on 127.0.0.1:\d+: exited with code"),
        running(REDIS, f"redis://127.0.0.1:{silent_listener}"),
    ):
        pytest.fail("entered")


def test_a_remote_service_that_does_not_answer_is_neither_installed_nor_started() -> None:
    def install(packages: Sequence[str]) -> None:
        pytest.fail(f"installed {packages}")

    with (
        pytest.raises(ServiceUnavailable, match=re.escape("192.0.2.1:6379 (not local)")),
        running(REDIS, "redis://192.0.2.1:6379", install=install),
    ):
        pytest.fail("entered")


def test_install_runs_apt_get_as_root_through_sudo_otherwise_or_says_what_to_install() -> None:
    apt = ["apt-get", "install", "-y", "--no-install-recommends", "mosquitto"]
    assert install_command(["mosquitto"], 0, None) == apt
    assert install_command(["mosquitto"], 1000, "/usr/bin/sudo") == ["/usr/bin/sudo", "-n", *apt]
    with pytest.raises(ServiceUnavailable, match="run `sudo apt-get install -y mosquitto`"):
        install_command(["mosquitto"], 1000, None)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_the_test_session_starts_redis_and_mosquitto_where_none_answers_and_stops_them(
    workers: list[str],
) -> None:
    """pytest as scripts/test runs it (in xdist workers, and in one process), pointed at free
    ports through the environment: started once, used by every worker, stopped at the end."""
    redis_port, mqtt_port = free_port(), free_port()
    env = {
        **os.environ,
        "FLEETWATCH_TEST_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "FLEETWATCH_TEST_MQTT_URL": f"mqtt://127.0.0.1:{mqtt_port}",
    }
    tests = [
        "tests/integration/test_fanout.py::test_redis_notice_from_one_instance_reaches_subscribers_of_another",
        "tests/integration/test_fanout.py::test_redis_uses_one_subscription_per_channel_per_process",
        "tests/integration/test_mqtt_ingestion.py::test_good_duplicate_malformed_and_unauthenticated_messages",
    ]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *workers, *tests],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    # once, whichever of the workers use them
    assert output.count(f"started Redis on 127.0.0.1:{redis_port}") == 1, output
    assert output.count(f"started Mosquitto on 127.0.0.1:{mqtt_port}") == 1, output
    assert "3 passed" in output
    assert not answers(REDIS, "127.0.0.1", redis_port)
    assert not answers(MOSQUITTO, "127.0.0.1", mqtt_port)
