"""Change notices to the subscriptions stored through the gateway (api/graphql/gateway.py):
each group of identical ones (document, variables, tenant, roles) run once per notice, the
result posted to every member; the gone removed, the expired told."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from api.graphql.gateway_runs import (
    GatewayParts,
    GatewaySubscription,
    RunFanout,
    run_once,
    send_error,
    send_result,
)
from api.graphql.shared import group_key, group_principal
from read_side.notifications import ChangeNotice, ChangePublisher


class GatewayPublisher(GatewayParts, ChangePublisher):
    """Change notices to the stored subscriptions of their tenant and topic."""

    def publish(self, notice: ChangeNotice) -> None:
        members = self.store.subscribers(notice.tenant_id, notice.topic)
        groups: dict[Any, list[GatewaySubscription]] = {}
        for member in members:
            key = group_key(member.query, member.variables, member.operation_name, member.caller)
            groups.setdefault(key, []).append(member)
        for group in groups.values():
            self._deliver(notice, group)

    def _deliver(self, notice: ChangeNotice, members: Sequence[GatewaySubscription]) -> None:
        live = []
        now = self.clock()
        for member in members:
            expires = member.caller.expires_at
            if expires is not None and expires <= now:
                send_error(self.connections, member.connection_id, member.operation_id,
                       "SUBSCRIPTION_EXPIRED", "the token expired: subscribe again")  # fmt: skip
                self.store.unsubscribe(member.connection_id, member.operation_id)
            else:
                live.append(member)
        if not live:
            return
        first = live[0]
        subscription = (first.query, first.variables, first.operation_name)
        principal = group_principal(first.caller)
        results = asyncio.run(
            run_once(self.schema, self.system, subscription, principal, RunFanout(notice))
        )
        for member in live:
            for result in results:
                sent = send_result(
                    self.connections, member.connection_id, member.operation_id, result
                )
                if sent == "gone":
                    self.store.close(member.connection_id)  # 410: gone without $disconnect
                    break
                if sent == "error":  # the operation ended (too large): nothing follows
                    self.store.unsubscribe(member.connection_id, member.operation_id)
                    break
