"""The silence watchdog: a gateway that sends nothing at all is pinged; one that does not answer is silent.

The IB client's own timeout fires once per silence of `silence_s`; the watchdog then asks the gateway the
time: one that answers within half that again is only quiet (off-hours) and watched again; one that does
not is reported silent (`GatewaySilence(True)`) until it sends anything (`GatewaySilence(False)`).
"""

import asyncio
from collections.abc import Callable
from typing import Any

from possync.actors.gateway._pacing import Pacer, Priority
from possync.messages.connection import GatewaySilence


class SilenceWatchdog:
    """Watches one connected `IB` for silence (in the session's loop thread)."""

    def __init__(self, ib: Any, pacer: Pacer, silence_s: float, emit: Callable[[Any], None]) -> None:
        self._ib = ib
        self._pacer = pacer
        self._silence_s = silence_s
        self._emit = emit
        self._silent = False
        self._probe: asyncio.Task[None] | None = None

    def watch(self) -> None:
        """Start watching (once connected)."""
        self._ib.timeoutEvent += self._on_silence
        self._ib.setTimeout(self._silence_s)

    def on_data(self) -> None:
        """Something came from the gateway: end a silence, and watch for the next one."""
        if self._silent:
            self._silent = False
            self._emit(GatewaySilence(False))
            self._ib.setTimeout(self._silence_s)

    def _on_silence(self, idle_s: float) -> None:
        self._probe = asyncio.get_running_loop().create_task(self._probe_silence(idle_s))

    async def _probe_silence(self, idle_s: float) -> None:
        pacer = self._pacer
        pacer.heard.clear()
        await pacer.token(Priority.CONTROL)
        if not self._ib.isConnected():
            return
        self._ib.client.reqCurrentTime()
        try:
            await asyncio.wait_for(pacer.heard.wait(), idle_s / 2)
        except TimeoutError:
            self._silent = True
            self._emit(GatewaySilence(True, idle_s * 1.5))
            return
        self._ib.setTimeout(self._silence_s)  # alive: watch for the next silence
