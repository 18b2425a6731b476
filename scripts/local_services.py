"""Redis and Mosquitto for the tests: used where they answer, else started for the run.

The test session (tests/conftest.py: `redis_url`, `mqtt_url`) enters `running(service, url)` for
the URL it tests against (`FLEETWATCH_TEST_REDIS_URL`, `FLEETWATCH_TEST_MQTT_URL`). When something
answers there it is used as it is and never stopped: other runs may share it. When nothing does,
the server is started on that port (installed first with `apt-get`, as root or through `sudo -n`,
when its binary is missing), and stopped at the end of the block. So a fresh Debian machine runs
the whole suite with `scripts/test` alone, and a busy one never has its shared services restarted.
Installing a package may start the system's own service on the default port (Debian's postinst
scripts do that where an init system runs): that one is left running, like any installed service.

`python scripts/local_services.py [redis://127.0.0.1:16379] [mqtt://127.0.0.1:11883]` for a
manual run (Ctrl-C stops what it started).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# Debian puts mosquitto in /usr/sbin, which is not on every user's PATH.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])


class ServiceUnavailable(RuntimeError):
    """The service does not answer and could not be installed or started."""


def _redis_ready(sock: socket.socket) -> bool:
    sock.sendall(b"PING\r\n")
    return sock.recv(64).startswith(b"+PONG")


# MQTT 3.1.1 CONNECT (clean session, keep-alive 60 s, empty client id), then DISCONNECT.
_MQTT_CONNECT = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"


def _mqtt_ready(sock: socket.socket) -> bool:
    sock.sendall(_MQTT_CONNECT)
    accepted = sock.recv(4) == b"\x20\x02\x00\x00"  # CONNACK, return code 0
    sock.sendall(b"\xe0\x00")
    return accepted


@dataclass(frozen=True)
class Service:
    """A server the tests need: how to recognise it, its Debian package, how to run it."""

    name: str
    package: str
    binary: str
    default_port: int
    ready: Callable[[socket.socket], bool]
    argv: Callable[[str, str, int, Path], list[str]]  # (binary, host, port, workdir)


def _redis_argv(binary: str, host: str, port: int, workdir: Path) -> list[str]:
    return [
        binary, "--port", str(port), "--bind", host, "--save", "", "--appendonly", "no",
        "--dir", str(workdir), "--daemonize", "no",
    ]  # fmt: skip


def _mosquitto_argv(binary: str, host: str, port: int, workdir: Path) -> list[str]:
    # Mosquitto 2.x accepts only local clients without a config file and `-p` binds every
    # interface: a listener line binds the one host and lets anonymous clients in.
    config = workdir / "mosquitto.conf"
    config.write_text(f"listener {port} {host}\nallow_anonymous true\npersistence false\n")
    return [binary, "-c", str(config)]


REDIS = Service("Redis", "redis-server", "redis-server", 6379, _redis_ready, _redis_argv)
MOSQUITTO = Service("Mosquitto", "mosquitto", "mosquitto", 1883, _mqtt_ready, _mosquitto_argv)


def endpoint(url: str, default_port: int) -> tuple[str, int]:
    """`redis://127.0.0.1:6379/15` -> ("127.0.0.1", 6379); a bad URL is a ValueError."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{url!r} names no host")
    return parts.hostname, parts.port or default_port


def is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def answers(service: Service, host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether `service` (not just any listener) answers at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return service.ready(sock)
    except OSError:
        return False


def install_command(packages: Sequence[str], uid: int, sudo: str | None) -> list[str]:
    """The apt-get command line that installs `packages` as this user: root runs it, others
    through `sudo -n` (never a password prompt in a test run); nobody else can."""
    apt = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    if uid == 0:
        return apt
    if sudo is not None:
        return [sudo, "-n", *apt]
    raise ServiceUnavailable(
        f"{', '.join(packages)} not installed and this user can not install packages: "
        f"run `sudo apt-get install -y {' '.join(packages)}` (or install them another way)"
    )


_updated = False


def apt_install(packages: Sequence[str]) -> None:
    """Install Debian packages (after one `apt-get update` per process)."""
    global _updated  # noqa: PLW0603 - one update per test session is enough
    if shutil.which("apt-get") is None:
        raise ServiceUnavailable(f"no apt-get here: install {', '.join(packages)} yourself")
    install = install_command(packages, os.getuid(), shutil.which("sudo"))
    prefix = install[: install.index("apt-get")]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = ([] if _updated else [[*prefix, "apt-get", "update"]]) + [install]
    for argv in steps:
        print(f"local_services: {' '.join(argv)}", file=sys.stderr, flush=True)
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise ServiceUnavailable(f"`{' '.join(argv)}` failed: {' / '.join(tail)}")
        if argv[-1] == "update":
            _updated = True


def _wait_ready(
    service: Service,
    host: str,
    port: int,
    *,
    proc: subprocess.Popen[bytes],
    log: Path,
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    while not answers(service, host, port, timeout=0.5):
        if proc.poll() is not None or time.monotonic() > deadline:
            why = f"exited with code {proc.returncode}" if proc.poll() is not None else "no answer"
            tail = " / ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
            raise ServiceUnavailable(f"{service.name} on {host}:{port}: {why} ({tail})")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def running(
    service: Service,
    url: str,
    *,
    install: Callable[[Sequence[str]], None] = apt_install,
    search_path: str = SEARCH_PATH,
    timeout: float = 30.0,
) -> Iterator[bool]:
    """`service` answering at `url` for the block; yields whether this block started it (and so
    stops it at the end). Raises `ServiceUnavailable`, having started nothing, when it can not."""
    host, port = endpoint(url, service.default_port)
    if answers(service, host, port):
        yield False
        return
    if not is_local(host):
        raise ServiceUnavailable(f"{service.name} does not answer at {host}:{port} (not local)")
    binary = shutil.which(service.binary, path=search_path)
    if binary is None:
        install([service.package])
        if answers(service, host, port):  # the package's own service took the port
            yield False
            return
        binary = shutil.which(service.binary, path=search_path)
        if binary is None:
            raise ServiceUnavailable(f"{service.package} installed but no {service.binary} found")
    with tempfile.TemporaryDirectory(prefix=f"fleetwatch-{service.package}-") as work:
        workdir = Path(work)
        log = workdir / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(  # noqa: S603 - fixed command line
                service.argv(binary, host, port, workdir),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=workdir,
            )  # fmt: skip
        try:
            _wait_ready(service, host, port, proc=proc, log=log, timeout=timeout)
            print(f"local_services: started {service.name} on {host}:{port}", file=sys.stderr)
            yield True
        finally:
            _stop(proc)


def main(argv: Sequence[str]) -> None:
    urls = {"redis": "redis://127.0.0.1:6379", "mqtt": "mqtt://127.0.0.1:1883"}
    urls.update({url.partition(":")[0]: url for url in argv})
    with contextlib.ExitStack() as stack:
        for service, url in ((REDIS, urls["redis"]), (MOSQUITTO, urls["mqtt"])):
            started = stack.enter_context(running(service, url))
            print(f"{service.name} at {url} ({'started' if started else 'already running'})")
        print("Ctrl-C to stop", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1:])
