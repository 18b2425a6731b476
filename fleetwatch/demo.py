"""`fleetwatch demo`: a newcomer's first minute. The API with its projection workers (as `serve`
runs them), a tenant with simulated devices and alert rules, and the device simulator (the one
of `fleetwatch simulate`, over HTTP to this very API, so nothing else has to be installed) sending
readings that cross the rules within seconds. Then it prints what to look at.

The simulator's readings are waves (fleetwatch/simulate.py): humidity starts at 55 and falls, the
temperature swings between about 15 and 27. So "humid" raises at the first reading and clears
later, and "too hot" raises and auto-clears over and over: alerts that nobody acknowledges, in
GraphiQL, over the `alertChanged` subscription and in `GET /alerts`.

Reruns on the same SQLite file reuse the devices (the simulator's state file) and the rules (ids
kept in `demo-<tenant>.json` beside it) instead of adding more.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any
from uuid import UUID

import uvicorn

from event_store.envelope import EventMetadata
from fleetwatch.bootstrap import System
from fleetwatch.settings import DEV_JWT_SECRET
from fleetwatch.simulate import Pacer, SimDevice, messages, post_http, provision
from write_side.alert_commands import CreateAlertRule
from write_side.alert_rules import parse_rule_definition
from write_side.errors import DomainError

log = logging.getLogger(__name__)

RULES: tuple[dict[str, Any], ...] = (
    {
        "name": "Demo: too hot",
        "scope": {"device_type": "simulated"},  # what the simulator registers
        "severity": "critical",
        "condition": {"kind": "threshold", "metric": "temperature", "op": ">", "value": 25},
        "clear_condition": {"op": "<", "value": 23},
    },
    {
        "name": "Demo: humid",
        "scope": {"device_type": "simulated"},
        "severity": "warning",
        "condition": {"kind": "threshold", "metric": "humidity", "op": ">", "value": 52},
        "hysteresis": 2,
    },
)

ALERTS_QUERY = (
    "{ alerts(first: 10) { edges { node { ruleName deviceName severity state "
    "triggerValue raisedAt count } } } }"
)
SUBSCRIPTION = (
    "subscription { alertChanged { transition alert { ruleName deviceName severity state "
    "lastValue } } }"
)


def seed_rules(system: System, tenant: str, state_file: Path) -> list[UUID]:
    """The demo rules of `tenant`: those remembered in `state_file` that still exist (checked on
    the write side, which never lags), and the missing ones created."""
    service = system.alert_service
    meta = EventMetadata(tenant, "system:demo")
    known: dict[str, str] = json.loads(state_file.read_text()) if state_file.exists() else {}
    ids: dict[str, str] = {}
    for definition in RULES:
        name = str(definition["name"])
        if name in known:
            try:
                if not service.get_rule(tenant, UUID(known[name])).deleted:
                    ids[name] = known[name]
                    continue
            except DomainError:
                pass  # another store, or the file was deleted: create it again
        command = CreateAlertRule(definition=parse_rule_definition(definition))
        ids[name] = str(service.create_rule(command, meta).aggregate.id)
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps(ids))
    return [UUID(i) for i in ids.values()]


class _Until(Pacer):
    """The simulator's pacing, forever, until `stop` is set."""

    def __init__(self, rate: float, stop: threading.Event) -> None:
        super().__init__(rate, None)
        self.stop = stop

    def __iter__(self) -> Iterator[int]:
        for due in super().__iter__():
            if self.stop.is_set():
                return
            yield due


def simulate_when(
    ready: Callable[[], bool], url: str, fleet: list[SimDevice], rate: float, stop: threading.Event
) -> tuple[threading.Thread, Counter[str]]:
    """A thread that, once `ready()`, posts the simulator's readings to `url` until `stop`."""
    stats: Counter[str] = Counter()

    def run() -> None:
        while not ready():
            if stop.wait(0.05):
                return
        try:
            post_http(url, messages(fleet, 0.02, 0.0), _Until(rate, stop), stats)
        except Exception:  # the API went away under it: stopping, or a bug worth a log line
            if not stop.is_set():
                log.exception("the demo simulator stopped")

    thread = threading.Thread(target=run, name="demo-simulator", daemon=True)
    thread.start()
    return thread, stats


def instructions(base: str, token: str | None, tenant: str) -> str:
    """What to look at, ready to paste."""
    ws = base.replace("http://", "ws://", 1) + "/graphql"
    shown = token or "$TOKEN"
    lines = [
        "",
        f"Fleetwatch demo: tenant {tenant!r}, simulated devices, alert rules 'Demo: too hot'"
        " (temperature > 25) and 'Demo: humid' (humidity > 52); alerts within seconds.",
        "",
        f"GraphiQL:  {base}/graphql",
        f"REST docs: {base}/docs",
    ]
    if token is None:
        lines += [
            "FLEETWATCH_JWT_SECRET is set: issue a token with",
            f"  TOKEN=$(.venv/bin/fleetwatch token issue --tenant {tenant} --role admin)",
        ]
    else:
        lines += [f"Token (tenant {tenant!r}, role admin, 24 h):", token]
    lines += [
        "",
        f'GraphiQL headers:  {{"Authorization": "Bearer {shown}"}}',
        f"Query:             {ALERTS_QUERY}",
        f"Subscription:      {SUBSCRIPTION}",
        "",
        "From a shell:",
        f"curl -s {base}/alerts -H 'Authorization: Bearer {shown}'",
        f".venv/bin/python scripts/subscribe.py --url {ws} --token {shown} \\",
        f"  --query '{SUBSCRIPTION}'",
        "",
        "Ctrl-C to stop.",
    ]
    return "\n".join(lines)


class _Server(uvicorn.Server):
    """uvicorn's server, stopping the simulator first on Ctrl-C or SIGTERM, so that it does not
    post to an API that is shutting down."""

    def __init__(self, config: uvicorn.Config, stop: threading.Event) -> None:
        super().__init__(config)
        self.stop = stop

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.stop.set()
        super().handle_exit(sig, frame)


def run_demo(system: System, *, port: int, devices: int, rate: float, tenant: str = "demo") -> None:
    """Seed `tenant` (devices, rules), serve the API on `system` (started by the caller) and
    simulate the devices until interrupted; prints the instructions once the API answers.
    Logs only warnings: the instructions stay on screen."""
    from api.app import create_app
    from api.auth import issue_token
    from api.graphql.frames import server_options

    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    settings = system.settings
    host = settings.host
    folder = settings.sqlite_path.parent
    fleet = provision(system.device_service, tenant, devices, folder / f"simulator-{tenant}.json")
    seed_rules(system, tenant, folder / f"demo-{tenant}.json")
    token = (
        issue_token(settings, "demo-admin", tenant, ["admin"], 24 * 3600)
        if settings.jwt_secret == DEV_JWT_SECRET
        else None  # a shared secret: no admin token printed on a terminal
    )
    shown = "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host  # noqa: S104 - a URL only
    base = f"http://{shown}:{port}"
    stop = threading.Event()
    config = uvicorn.Config(
        create_app(system), host=host, port=port, log_level="warning", access_log=False,
        **server_options(system.settings.ws_compression, system.settings.subscription_frames),
    )  # fmt: skip
    server = _Server(config, stop)

    def ready() -> bool:
        if server.started:
            print(instructions(base, token, tenant), flush=True)
        return server.started

    simulator, _ = simulate_when(ready, base, fleet, rate, stop)
    # uvicorn re-raises the signal that stopped it once it is done: as KeyboardInterrupt for both
    # (SIGTERM would otherwise end the process before the caller closes the system), ending here.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
    finally:
        stop.set()
        simulator.join(timeout=10)
