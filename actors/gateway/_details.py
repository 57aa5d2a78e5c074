"""Contract details by conid alone: what an activation by conid lacks (symbol, type, expiry, strike, ...)
and a contract's trading hours (with the gateway's clock offset: its hours are in its time). Each conid
is asked once a day at most (`MAX_AGE_S`), paced by the session's pacer; concurrent askers share one
request. The gateway's refusal (200: no security definition) is an answer too, cached like a
description. Lives in the session's loop thread.
"""

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from possync.actors.gateway._convert import from_ib
from possync.actors.gateway._pacing import Pacer, Priority
from possync.messages.lifecycle import ContractDescribed, TradingHours

MAX_AGE_S = 24 * 3600.0
"""A description (or a refusal) is asked for again after this long: trading hours cover about a week."""
ANSWER_TIMEOUT_S = 15.0


class ContractDetails:
    """Describes contracts by conid (see the module docstring)."""

    def __init__(self, ib: Any, module: Any, pacer: Pacer) -> None:
        self._ib = ib
        self._module = module
        self._pacer = pacer
        self._cache: dict[int, tuple[float, ContractDescribed]] = {}
        self._pending: dict[int, asyncio.Task[ContractDescribed]] = {}
        self._errors: dict[int, tuple[int, str]] = {}  # by id() of a request's contract
        self._offset_s: float | None = None  # the gateway's clock minus ours, measured once per session
        self.sent = 0

    def describe(self, conid: int, on_done: Callable[[ContractDescribed], None]) -> None:
        """Call `on_done` with `conid`'s description (cached, or asked for now)."""
        cached = self._cache.get(conid)
        if cached is not None and time.monotonic() - cached[0] < MAX_AGE_S:
            on_done(cached[1])
            return
        task = self._pending.get(conid)
        if task is None:
            task = self._pending[conid] = asyncio.get_running_loop().create_task(self._ask(conid))
        task.add_done_callback(lambda done: on_done(done.result()))

    def on_error(self, contract: Any, code: int, message: str) -> bool:
        """True if `contract` is one of our requests' (its error becomes its answer)."""
        if contract is None or id(contract) not in self._errors:
            return False
        self._errors[id(contract)] = (code, message)
        return True

    async def _ask(self, conid: int) -> ContractDescribed:
        contract = self._module.Contract(conId=conid)
        self._errors[id(contract)] = (0, "")
        try:
            await self._pacer.token(Priority.DETAILS)
            self._pacer.sent()
            self.sent += 1
            details = await asyncio.wait_for(self._ib.reqContractDetailsAsync(contract), ANSWER_TIMEOUT_S)
            offset_s = await self._clock_offset() if details else 0.0
            answer = _answer(conid, details, offset_s, *self._errors[id(contract)])
            self._cache[conid] = (time.monotonic(), answer)
            return answer
        except TimeoutError:
            return ContractDescribed(conid, None, error=f"no contract details within {ANSWER_TIMEOUT_S:.0f}s")
        finally:
            self._errors.pop(id(contract), None)
            self._pending.pop(conid, None)

    async def _clock_offset(self) -> float:
        """The gateway's clock minus ours (its trading hours are in its time), to a second; asked once."""
        if self._offset_s is not None:
            return self._offset_s
        await self._pacer.token(Priority.DETAILS)
        self._pacer.sent()
        self.sent += 1
        gateway_now = await asyncio.wait_for(self._ib.reqCurrentTimeAsync(), ANSWER_TIMEOUT_S)
        self._offset_s = (gateway_now - datetime.now(UTC)).total_seconds()
        return self._offset_s


def _answer(conid: int, details: list[Any], offset_s: float, code: int, error: str) -> ContractDescribed:
    """The first description the gateway sent, or its refusal."""
    if not details:
        return ContractDescribed(
            conid, None, code=code, error=error or "the gateway sent no contract details"
        )
    first = details[0]
    hours = TradingHours(first.timeZoneId or "", first.tradingHours or "", first.liquidHours or "", offset_s)
    return ContractDescribed(conid, from_ib(first.contract), hours)
