"""The Simulator: a simulated IB Gateway on 127.0.0.1, its asyncio loop running in a daemon thread."""

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from loguru import logger

from possync.simulator.admin import start_admin
from possync.simulator.config import HOST, SimulatorConfig
from possync.simulator.controls import MarketDataControls
from possync.simulator.gateway import Gateway
from possync.simulator.greeks import Greeks
from possync.simulator.market import SendHook
from possync.simulator.portfolio import DemoPosition
from possync.simulator.pricing import Valuation
from possync.simulator.stats import SimulatorStats

T = TypeVar("T")

_START_TIMEOUT = 10.0
_CALL_TIMEOUT = 10.0


class Simulator(MarketDataControls):
    """A simulated IB Gateway that the unmodified ib_insync client connects to over loopback TCP.

    `start()` listens (port 0 picks a free one) and returns the port; `stop()` closes every socket and
    joins the loop thread; `start()` again is a full gateway restart on the same port with the same
    portfolio, line limit and counters. Every public method is thread-safe; the market-data controls
    (permissions, open/closed markets, the clock, a competing session) come from `MarketDataControls`.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self._gateway = Gateway(self.config)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._servers: list[asyncio.Server] = []
        self._port: int | None = None
        self._admin_port: int | None = None

    @property
    def port(self) -> int:
        """The API port (fixed by the first `start()`)."""
        if self._port is None:
            raise RuntimeError("the simulator has not been started: call start() first")
        return self._port

    @property
    def admin_port(self) -> int | None:
        """The admin HTTP port, or None when the config asks for no admin endpoint."""
        return self._admin_port

    @property
    def accounts(self) -> tuple[str, ...]:
        """The managed accounts the simulator reports."""
        return self.config.accounts

    @property
    def running(self) -> bool:
        """Whether the simulator is listening."""
        return self._thread is not None

    def start(self) -> int:
        """Listen on 127.0.0.1 and return the API port; raise OSError naming the port if it is taken."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError(f"the simulator is already running on port {self._port}")
            loop = asyncio.new_event_loop()
            ready: concurrent.futures.Future[None] = concurrent.futures.Future()
            thread = threading.Thread(
                target=self._serve, args=(loop, ready), name="simulator-loop", daemon=True
            )
            thread.start()
            try:
                ready.result(timeout=_START_TIMEOUT)
            except BaseException:
                thread.join(_START_TIMEOUT)
                raise
            self._loop, self._thread = loop, thread
            logger.info(
                "simulated gateway listening on {}:{} (admin port {})", HOST, self._port, self._admin_port
            )
            return self.port

    def stop(self) -> None:
        """Close every client and listening socket and join the loop thread; a no-op when stopped."""
        with self._lock:
            loop, thread = self._loop, self._thread
            if loop is None or thread is None:
                return
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_START_TIMEOUT)
            if thread.is_alive():
                raise RuntimeError(f"the simulator loop did not stop within {_START_TIMEOUT}s")
            self._loop = self._thread = None
            logger.info("simulated gateway on port {} stopped", self._port)

    def restart(self) -> int:
        """A full gateway restart: every client is disconnected, then the same port listens again."""
        self.stop()
        return self.start()

    def drop_all(self) -> int:
        """Close every client connection (the listener stays up); return how many were closed."""
        return self._call(self._gateway.drop_all)

    def send_error(self, code: int, message: str | None = None) -> int:
        """Send error `code` (reqId -1) to every client, with a real gateway's side effects.

        1100 stops streaming; 1102 restarts it; 1101 restarts it and drops every market-data, positions,
        account-updates and P&L subscription; 2103/2104 break/restore the market-data farm. Returns how
        many clients got it.
        """
        return self._call(lambda: self._gateway.send_error(code, message))

    def set_max_lines(self, n: int) -> None:
        """Change the market-data line limit (held lines stay; new ones are refused until under it)."""
        self._call(lambda: self._gateway.set_max_lines(n))

    def set_position(self, conid: int, position: float, account: str | None = None) -> DemoPosition:
        """Change (or open) a position; position and account-update subscribers are told at once.

        `account` may be omitted when one account at most holds the conid. Raises ValueError for an
        unknown conid or account.
        """
        return self._call(lambda: self._gateway.set_position(conid, position, account))

    def pause(self) -> None:
        """Act as a hung gateway: accept and read, answer and stream nothing until `resume()`."""
        self._call(self._gateway.pause)

    def resume(self) -> None:
        """Answer again, starting with everything asked during the pause."""
        self._call(self._gateway.resume)

    def set_tick_hz(self, tick_hz: float) -> None:
        """Change the ticks per second sent for each streaming subscription (ValueError outside (0, 1000])."""
        self._call(lambda: self._gateway.market.set_tick_hz(tick_hz))

    def set_send_hook(self, hook: SendHook | None) -> None:
        """Instrumentation for benchmarks (None, the default, turns it off): after each write of ticks to
        a client, the loop thread calls `hook(sent_at, ticks)`, `sent_at` being `time.monotonic()` just
        before the write and `ticks` a list of (reqId, conid, tick type, price or None for a size tick)."""
        self._call(lambda: setattr(self._gateway.market, "on_send", hook))

    def set_pnl_interval(self, seconds: float) -> None:
        """Answer every P&L subscription each `seconds` (ValueError outside (0, 60])."""
        self._call(lambda: self._gateway.pnl.set_interval(seconds))

    def valuations(self, account: str | None = None) -> list[Valuation]:
        """Every open position (of `account`, or of every account) valued now, as pnlSingle and
        updatePortfolio report it: mark, value, unrealized, daily and realized P&L."""
        return self._call(lambda: self._gateway.valuations(account))

    def option_model(self, conid: int) -> Greeks:
        """An option's model computation now (what tick type 13 would carry); ValueError for a non-option."""
        return self._call(lambda: self._gateway.option_model(conid))

    def stats(self) -> SimulatorStats:
        """A consistent snapshot of clients, lines and counters."""
        return self._call(self._gateway.stats)

    def positions(self) -> list[DemoPosition]:
        """Every account's positions (closed ones with position 0 included)."""
        return self._call(self._gateway.positions)

    def __enter__(self) -> "Simulator":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _call(self, operation: Callable[[], T]) -> T:
        """Run `operation` on the loop thread (or here when stopped: nothing else touches the state)."""
        if threading.current_thread() is self._thread:
            return operation()
        with self._lock:
            loop = self._loop
            if loop is None:
                return operation()
            result: concurrent.futures.Future[T] = concurrent.futures.Future()

            def run() -> None:
                try:
                    result.set_result(operation())
                except Exception as exc:
                    result.set_exception(exc)

            loop.call_soon_threadsafe(run)
            return result.result(timeout=_CALL_TIMEOUT)

    def _serve(self, loop: asyncio.AbstractEventLoop, ready: concurrent.futures.Future[None]) -> None:
        """The loop thread: open, tell start() the outcome, serve until stop(), then clean up."""
        asyncio.set_event_loop(loop)
        try:
            try:
                loop.run_until_complete(self._open())
            except BaseException as exc:
                ready.set_exception(exc)
                return
            ready.set_result(None)
            loop.run_forever()
        finally:
            loop.run_until_complete(self._close())
            loop.close()

    async def _open(self) -> None:
        """Start the gateway and its listeners (the same ports as before on a restart)."""
        await self._gateway.open()
        port = self._port if self._port is not None else self.config.port
        api = await _listen(lambda: asyncio.start_server(self._gateway.accept, HOST, port), "API", port)
        self._servers = [api]
        self._port = api.sockets[0].getsockname()[1]
        if self.config.admin_port is not None:
            admin_port = self._admin_port if self._admin_port is not None else self.config.admin_port
            admin = await _listen(lambda: start_admin(self._gateway, HOST, admin_port), "admin", admin_port)
            self._servers.append(admin)
            self._admin_port = admin.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        """Close the listeners and every connection, and finish every task of the loop."""
        for server in self._servers:
            server.close()
        self._servers = []
        await self._gateway.close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.sleep(0)  # let aborted transports close their sockets
        await asyncio.get_running_loop().shutdown_asyncgens()


async def _listen(
    open_server: Callable[[], Awaitable[asyncio.Server]], what: str, port: int
) -> asyncio.Server:
    """Open a listener; an OSError names the port and what to check."""
    try:
        return await open_server()
    except OSError as exc:
        raise OSError(
            exc.errno,
            f"cannot listen for the {what} on {HOST}:{port} ({exc.strerror}): is something else using it?",
        ) from exc
