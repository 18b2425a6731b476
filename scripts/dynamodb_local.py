"""Start and stop AWS DynamoDB Local (1.25.1, from the npm package amplify-dynamodb-simulator).

Used by the test session, the benchmarks and `python scripts/dynamodb_local.py` for a manual run.
Always connect to 127.0.0.1: DynamoDB Local binds every interface.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

EMULATOR_DIR = (
    Path(__file__).resolve().parent
    / "dynamodb-local"
    / "node_modules"
    / "amplify-dynamodb-simulator"
    / "emulator"
)


# The JVM of a short run (the test session, a bench's smoke test): the client compiler only and
# one GC thread. On this 2-core machine it halved the JVM's CPU over three test modules (21.6
# and 18.8 s -> 9.6 and 8.7 s) and the modules ran as fast or faster; a long benchmark keeps
# the JVM's defaults (the optimising compiler pays off over minutes).
QUICK_JVM = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
QUICK_ENV = "FLEETWATCH_DYNAMODB_LOCAL_QUICK"  # "1": `quick` for a bench a smoke test runs


class DynamoDBLocalUnavailable(RuntimeError):
    """DynamoDB Local is not installed or did not start."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DynamoDBLocalUnavailable(f"DynamoDB Local exited with code {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=0.5)  # noqa: S310 - local emulator
        except urllib.error.HTTPError:
            return  # it answers (400 for a bare GET): ready
        except OSError:
            time.sleep(0.1)
            continue
        return
    raise DynamoDBLocalUnavailable(f"DynamoDB Local not ready after {timeout:.0f} s at {url}")


@contextlib.contextmanager
def dynamodb_local(
    port: int | None = None, timeout: float = 30.0, *, quick: bool | None = None
) -> Iterator[str]:
    """Run DynamoDB Local in memory for the duration of the block; yield its endpoint URL.
    `quick`: the JVM of a short run (`QUICK_JVM`; None: when `QUICK_ENV` is "1"). Sets
    placeholder AWS credentials where the environment has none: boto3 signs every request, and
    DynamoDB Local accepts any key (the benches run on a machine without AWS)."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    jar = EMULATOR_DIR / "DynamoDBLocal.jar"
    if not jar.exists():
        raise DynamoDBLocalUnavailable(
            f"{jar} is missing: run `npm ci --prefix scripts/dynamodb-local` (scripts/test does)"
        )
    java = shutil.which("java")
    if java is None:
        raise DynamoDBLocalUnavailable("java is not on PATH")
    port = port or free_port()
    if quick is None:
        quick = os.environ.get(QUICK_ENV) == "1"
    cmd = [
        java,
        "-Xmx512m",
        *(QUICK_JVM if quick else ()),
        f"-Djava.library.path={EMULATOR_DIR / 'DynamoDBLocal_lib'}",
        "-jar",
        str(jar),
        "-inMemory",
        "-port",
        str(port),
        "-disableTelemetry",
    ]
    proc = subprocess.Popen(  # noqa: S603 - fixed command line
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=EMULATOR_DIR
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, timeout)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    with dynamodb_local(port) as url:
        print(f"DynamoDB Local at {url} (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
