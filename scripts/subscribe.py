"""Print GraphQL subscription messages from a running Fleetwatch (graphql-transport-ws).

.venv/bin/python scripts/subscribe.py --token "$TOKEN" [--url ws://127.0.0.1:8000/graphql]
    [--query 'subscription { deviceChanged { eventType position device { id name version } } }']
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json

import websockets

DEFAULT_QUERY = (
    "subscription { deviceChanged { eventType position device { id name version lifecycle } } }"
)


async def main(url: str, token: str, query: str, count: int | None) -> None:
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        ack = json.loads(await ws.recv())
        if ack.get("type") != "connection_ack":
            raise SystemExit(f"refused: {ack}")
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        print("subscribed; waiting for changes (Ctrl-C to stop)", flush=True)
        seen = 0
        async for raw in ws:
            message = json.loads(raw)
            if message.get("type") == "ping":
                await ws.send(json.dumps({"type": "pong"}))
                continue
            print(json.dumps(message.get("payload", message)), flush=True)
            seen += 1
            if count is not None and seen >= count:
                return


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="ws://127.0.0.1:8000/graphql")
    parser.add_argument("--token", required=True)
    parser.add_argument("--query", default=DEFAULT_QUERY)
    parser.add_argument("--count", type=int, default=None, help="exit after this many messages")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.url, args.token, args.query, args.count))
