"""What the supervisor starts and stops together (`Unit`): one worker, or the members of a
worker group that this process holds, with the loops that run beside them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from notifications.dispatcher import Dispatcher


class Runner(Protocol):
    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> bool: ...


class Loop(Protocol):
    """A loop that runs beside a worker, where the worker runs (offline detection beside
    device status, the OTA timers beside the orchestrator)."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> bool: ...


@dataclass
class Dispatching:
    dispatcher: Dispatcher
    poll_interval: float

    def start(self) -> None:
        self.dispatcher.start(self.poll_interval)

    def stop(self, timeout: float = 5.0) -> bool:
        return self.dispatcher.stop(timeout)


@dataclass
class Unit:
    """What starts and stops together: one worker or a group's members, and their loops."""

    names: tuple[str, ...]
    runner: Runner
    loops: list[Loop]

    def start(self) -> None:
        self.runner.start()
        for loop in self.loops:
            loop.start()

    def stop(self, timeout: float) -> bool:
        """True once the workers' thread has ended (then the unit may start again)."""
        loops = [loop.stop(timeout) for loop in self.loops]
        return self.runner.stop(timeout) and all(loops)
