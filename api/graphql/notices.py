"""The one subscription loop (issue 11, item 2): every GraphQL subscription reads the caller's
tenant's change notices on one fan-out topic through `tenant_notices`.

    async with aclosing(tenant_notices(system, caller, DEVICE_TOPIC, READ, keep)) as notices:
        async for notice in notices:
            yield DeviceChange.from_notice(notice)

`aclosing` matters: a client that unsubscribes closes the resolver's generator, and only an
explicit close reaches this one's `finally` at once (not whenever it is garbage collected), so
the fan-out subscription is released as the client leaves.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from api.auth import Permission, Principal, authorize
from api.ports import FleetSystem
from read_side.notifications import ChangeNotice


async def tenant_notices(
    system: FleetSystem,
    caller: Principal,
    topic: str,
    permission: Permission,
    keep: Callable[[ChangeNotice], bool] = lambda notice: True,
) -> AsyncGenerator[ChangeNotice, None]:
    """The notices of the caller's tenant on `topic` that `keep` accepts, from now on. The
    caller is authorized again before each one, which ends the stream once the token expires
    (SUBSCRIPTION_EXPIRED); a notice of another tenant is never yielded, whatever `keep` says."""
    notices = system.fanout.subscribe(caller.tenant_id, topic)
    try:
        async for notice in notices:
            if notice.tenant_id != caller.tenant_id or not keep(notice):
                continue
            authorize(caller, permission)
            yield notice
    finally:
        await close_stream(notices)


async def close_stream(iterator: AsyncIterator[Any]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
