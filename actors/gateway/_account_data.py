"""The account subscriptions of a session, asked for again when the gateway says they may be lost.

After 1101 (connectivity restored, data lost) the gateway has dropped the positions subscription and the
account updates as well as the market data: the positions subscription (reqPositions) and the account
updates (reqAccountUpdates, for the account the client subscribed at connect: `ib.account`, or the only
account of the login, as ib_insync and ib_async do) are asked for again. After 1102 (data kept) the
positions download is asked for once, to verify that it still completes. Every request waits for a token
of the session's pacer; the outcome (`AccountDataRestored`) goes to the connection, which logs it and
reconnects if the gateway did not answer. Lives in the session's loop thread.
"""

import asyncio
from collections.abc import Callable
from typing import Any

from possync.actors.gateway._pacing import Pacer
from possync.messages.lifecycle import AccountDataRestored

ANSWER_TIMEOUT_S = 30.0
"""How long the gateway may take to end a positions or account download (positionEnd, accountDownloadEnd)."""


class AccountData:
    """Asks for the positions subscription and account updates again (see the module docstring)."""

    def __init__(self, ib: Any, pacer: Pacer, emit: Callable[[Any], None]) -> None:
        self._ib = ib
        self._pacer = pacer
        self._emit = emit
        self._task: asyncio.Task[None] | None = None
        self.accounts: tuple[str, ...] = ()
        """The accounts whose updates the client subscribed at connect."""

    def connected(self, account: str, managed: tuple[str, ...]) -> None:
        """Remember the accounts the client subscribed updates for: `account`, else the only managed one."""
        self.accounts = (account,) if account else managed if len(managed) == 1 else ()

    def resubmit(self, data_lost: bool) -> None:
        """Ask again (after 1101: positions and account updates; after 1102: positions only, to verify)."""
        if self._task is not None:
            self._task.cancel()  # a newer notice supersedes it
        self._task = asyncio.get_running_loop().create_task(self._run(data_lost))

    async def _run(self, data_lost: bool) -> None:
        accounts = self.accounts if data_lost else ()
        try:
            positions = await self._ask(self._ib.reqPositionsAsync)
            for account in accounts:
                await self._ask(lambda account=account: self._ib.reqAccountUpdatesAsync(account))
        except TimeoutError:
            what = "positionEnd" + (" or accountDownloadEnd" if accounts else "")
            error = f"no {what} within {ANSWER_TIMEOUT_S:.0f}s"
            self._emit(AccountDataRestored(data_lost, 0, accounts, error))
            return
        self._emit(AccountDataRestored(data_lost, len(positions or ()), accounts))

    async def _ask(self, request: Callable[[], Any]) -> Any:
        """Send one request when the pacer allows; its answer, within `ANSWER_TIMEOUT_S`."""
        await self._pacer.token()
        self._pacer.sent()
        return await asyncio.wait_for(request(), ANSWER_TIMEOUT_S)
