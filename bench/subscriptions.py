"""GraphQL subscriptions as clients see them (issue 14): many subscribers of one device's
changes on a running `fleetwatch serve`, each change timed from the mutation sent to each
arrival; shared execution (the default) beside one execution per subscriber
(`FLEETWATCH_SHARED_SUBSCRIPTIONS=false`), beside shared execution with every frame sent
through ASGI (`FLEETWATCH_SUBSCRIPTION_FRAMES=false`) and beside idle readers polling the feed
(`FLEETWATCH_SQLITE_FEED_WATCH=false`, mode `shared-polling`), measured in the same run.

    .venv/bin/python bench/subscriptions.py [--subscribers 1000] [--changes 20]
                                            [--interval 0.25] [--json-only]

For each mode (`--modes`: `unshared`, `shared-asgi`, `shared`, and `redis`: shared in two API
processes over one SQLite file and Redis pub/sub, the projections in the first, subscribers
alternating between them): a fresh `fleetwatch serve` on the embedded default (a temporary
SQLite file, in-process fan-out but in `redis`), one device registered; `--subscribers` real
graphql-transport-ws connections (the `websockets` client, one subscription each,
`deviceChanged(deviceId)` with the device's name), all of one tenant and role; a warm-up change
every subscriber must receive; then `--changes` renames of the device (GraphQL `updateDevice`),
`--interval` apart, each subscriber noting when each arrives. Reported: deliveries received and
expected (every one must arrive), latency p50/p99/max over all deliveries, the server's CPU
time per delivery (user + system of its processes, from the first measured change to the last
arrival, divided by the deliveries: the mutations' own work included; and the same less the
servers' idle CPU, measured beforehand in the same run over as long a window with everyone
connected and nothing changing, which is reported too) and its resident memory per connected
idle subscriber (RSS after connecting minus before, over the subscribers). The clients run in
this process, on one event loop, whose CPU share over the changes is reported
(`client_cpu_percent`). Prints one JSON document, then a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from api.auth import issue_token  # noqa: E402
from fleetwatch.settings import Settings  # noqa: E402

SUBSCRIPTION = """subscription($id: ID) { deviceChanged(deviceId: $id) {
  eventType device { id name version } } }"""
UPDATE = """mutation($input: UpdateDeviceInput!) { updateDevice(input: $input) { version } }"""
REGISTER = """mutation($input: RegisterDeviceInput!) { registerDevice(input: $input) { id } }"""
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Server:
    def __init__(self, directory: Path, shared: bool, redis_url: str | None = None,
                 projections: bool = True, frames: bool = True,
                 feed_watch: bool = True) -> None:  # fmt: skip
        self.port = free_port()
        env = {
            **os.environ, "FLEETWATCH_STORE": "sqlite",
            "FLEETWATCH_SQLITE_PATH": str(directory / "fleet.sqlite3"),
            "FLEETWATCH_BLOB_DIR": str(directory / "blobs"),
            "FLEETWATCH_ANALYTICS_DIR": str(directory / "analytics"),
            "FLEETWATCH_SHARED_SUBSCRIPTIONS": "true" if shared else "false",
            "FLEETWATCH_RUN_PROJECTIONS": "true" if projections else "false",
            "FLEETWATCH_SUBSCRIPTION_FRAMES": "true" if frames else "false",
            "FLEETWATCH_SQLITE_FEED_WATCH": "true" if feed_watch else "false",
        }  # fmt: skip
        env.pop("REDIS_URL", None)
        env.pop("FLEETWATCH_REDIS_URL", None)
        if redis_url is not None:
            env["FLEETWATCH_REDIS_URL"] = redis_url
        self.log = (directory / f"serve-{self.port}.log").open("w")
        self.process = subprocess.Popen(
            [str(ROOT / ".venv/bin/fleetwatch"), "serve", "--port", str(self.port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=directory,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/health", timeout=1).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"fleetwatch serve did not start: see {directory}/serve.log")
            time.sleep(0.2)

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


async def gql(client: httpx.AsyncClient, token: str, query: str, **variables: Any) -> Any:
    response = await client.post("/graphql", json={"query": query, "variables": variables},
                                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


class Subscriber:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.ws: ClientConnection | None = None

    async def open(self, url: str, token: str, device: str) -> None:
        self.ws = await connect(url, subprotocols=[Subprotocol("graphql-transport-ws")],
                                max_queue=None, ping_interval=None)  # fmt: skip
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await self.ws.send(json.dumps(init))
        ack = json.loads(await self.ws.recv())
        assert ack["type"] == "connection_ack", ack
        await self.ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": SUBSCRIPTION, "variables": {"id": device}}}))  # fmt: skip

    async def read(self) -> None:
        assert self.ws is not None
        async for frame in self.ws:
            message = json.loads(frame)
            if message["type"] == "ping":
                await self.ws.send('{"type":"pong"}')
            elif message["type"] == "next":
                name = message["payload"]["data"]["deviceChanged"]["device"]["name"]
                self.arrivals.setdefault(name, time.perf_counter())
            else:
                raise RuntimeError(f"unexpected frame {message}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_mode(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    """`unshared`, `shared-asgi` (shared, every frame sent through ASGI), `shared` (one
    process, the groups writing their members' frames), `shared-polling` (`shared` with idle
    readers polling the feed every 50 ms: no watcher of the SQLite file), or `redis` (shared,
    two API processes over one SQLite file and Redis fan-out, the projections in the first;
    subscribers alternate)."""
    shared, frames = mode != "unshared", mode != "shared-asgi"
    feed_watch = mode != "shared-polling"
    with tempfile.TemporaryDirectory(prefix="fleetwatch-bench-subs-") as tmp:
        redis_url = args.redis if mode == "redis" else None
        server = Server(Path(tmp), shared, redis_url, frames=frames, feed_watch=feed_watch)
        servers = [server]
        if mode == "redis":
            servers.append(Server(Path(tmp), shared, redis_url, projections=False))
        try:
            token = issue_token(Settings(), "bench", "bench", ["admin"], 3600)
            async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
                registered = await gql(
                    client, token, REGISTER, input={"name": "w0", "deviceType": "pump"}
                )
                device = registered["registerDevice"]["id"]
                pids = [s.process.pid for s in servers]
                rss_before = sum(map(rss_mib, pids))
                subscribers = [Subscriber() for _ in range(args.subscribers)]
                urls = [f"ws://127.0.0.1:{s.port}/graphql" for s in servers]
                for start in range(0, len(subscribers), 100):
                    await asyncio.gather(*(
                        s.open(urls[(start + i) % len(urls)], token, device)
                        for i, s in enumerate(subscribers[start : start + 100])
                    ))  # fmt: skip
                readers = [asyncio.create_task(s.read()) for s in subscribers]
                version = 1

                async def change(name: str) -> float:
                    nonlocal version
                    sent = time.perf_counter()
                    renamed = {"id": device, "name": name, "expectedVersion": version}
                    await gql(client, token, UPDATE, input=renamed)
                    version += 1
                    return sent

                # Warm-up: until every subscriber has its subscription live and got a change.
                deadline = time.monotonic() + 120
                attempt = 0
                while not all(any(n.startswith("warm") for n in s.arrivals) for s in subscribers):
                    if time.monotonic() > deadline:
                        raise RuntimeError("subscribers did not all receive the warm-up change")
                    attempt += 1
                    await change(f"warm{attempt}")
                    await asyncio.sleep(1.0)
                rss_idle = sum(map(rss_mib, pids))
                # The baseline, in the same run: the servers' CPU with everyone connected and
                # nothing changing (projection feeds followed, pings), as long as the changes take.
                idle_from, idle_cpu = time.monotonic(), sum(map(cpu_seconds, pids))
                await asyncio.sleep(args.changes * args.interval)
                idle_cpu = sum(map(cpu_seconds, pids)) - idle_cpu
                idle_rate = idle_cpu / (time.monotonic() - idle_from)
                cpu_before, measured_from = sum(map(cpu_seconds, pids)), time.monotonic()
                client_before = time.process_time()
                sent: dict[str, float] = {}
                for i in range(args.changes):
                    sent[f"c{i}"] = await change(f"c{i}")
                    await asyncio.sleep(args.interval)
                end = time.monotonic() + 30
                expected = args.subscribers * args.changes
                while (
                    sum(len([n for n in s.arrivals if n in sent]) for s in subscribers) < expected
                ):
                    if time.monotonic() > end:
                        break
                    await asyncio.sleep(0.05)
                cpu = sum(map(cpu_seconds, pids)) - cpu_before
                elapsed = time.monotonic() - measured_from
                above_idle = cpu - idle_rate * elapsed
                client_busy = (time.process_time() - client_before) / elapsed
                latencies = [s.arrivals[n] - t for s in subscribers for n, t in sent.items()
                             if n in s.arrivals]  # fmt: skip
                for task in readers:
                    task.cancel()
                await asyncio.gather(*readers, return_exceptions=True)
                await asyncio.gather(*(s.ws.close() for s in subscribers if s.ws is not None),
                                     return_exceptions=True)  # fmt: skip
        finally:
            for each in servers:
                each.close()
    received = len(latencies)
    return {
        "mode": mode, "shared": shared, "frames": frames, "feed_watch": feed_watch,
        "processes": len(servers),
        "subscribers": args.subscribers, "changes": args.changes,
        "deliveries_expected": expected, "deliveries_received": received,
        "latency_ms": {
            "p50": round(1000 * statistics.median(latencies), 1),
            "p99": round(1000 * percentile(latencies, 0.99), 1),
            "max": round(1000 * max(latencies), 1),
        },
        "server_cpu_us_per_delivery": round(1e6 * cpu / max(received, 1), 1),
        "server_cpu_us_per_delivery_above_idle": round(1e6 * above_idle / max(received, 1), 1),
        "server_idle_cpu_percent": round(100 * idle_rate, 1),
        # the clients' own process (one event loop): near 100 %, latency is the clients'
        "client_cpu_percent": round(100 * client_busy, 1),
        "server_rss_kib_per_idle_subscriber": round(
            1024 * (rss_idle - rss_before) / args.subscribers, 1
        ),
        "server_rss_mib": round(rss_idle, 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument(
        "--modes",
        default="unshared,shared-asgi,shared-polling,shared",
        help="of unshared, shared-asgi, shared, shared-polling, redis (two API processes; "
        "needs --redis)",
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14",
                        help="the Redis of the redis mode")  # fmt: skip
    parser.add_argument("--json-only", action="store_true")
    args = parser.parse_args()
    results = [asyncio.run(run_mode(args, mode)) for mode in args.modes.split(",")]
    print(json.dumps(results, indent=2))
    if args.json_only:
        return
    print(f"\n{args.subscribers:,} subscribers of one device, {args.changes} changes")
    print(f"{'mode':<14} {'received':>17} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'CPU us/deliv':>13} {'above idle':>11} {'idle CPU %':>11} "
          f"{'KiB/idle sub':>13}")  # fmt: skip
    for r in results:
        got = f"{r['deliveries_received']:,}/{r['deliveries_expected']:,}"
        lat = r["latency_ms"]
        print(f"{r['mode']:<14} {got:>17} {lat['p50']:>8} "
              f"{lat['p99']:>8} {lat['max']:>8} {r['server_cpu_us_per_delivery']:>13} "
              f"{r['server_cpu_us_per_delivery_above_idle']:>11} "
              f"{r['server_idle_cpu_percent']:>11} "
              f"{r['server_rss_kib_per_idle_subscriber']:>13}")  # fmt: skip


if __name__ == "__main__":
    main()
