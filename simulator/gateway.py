"""The gateway's state and every operation on it; lives on the simulator's event loop, survives restarts."""

import asyncio
import contextlib
from datetime import UTC, datetime

from loguru import logger

from possync.simulator import outgoing
from possync.simulator.config import SimulatorConfig
from possync.simulator.greeks import Greeks
from possync.simulator.hours import mode_name
from possync.simulator.instruments import DemoContract
from possync.simulator.market import Market
from possync.simulator.marketaccess import MarketAccess
from possync.simulator.pnl import PnlBook
from possync.simulator.portfolio import DemoPosition, Portfolio
from possync.simulator.pricing import Pricing, Valuation
from possync.simulator.protocol import NO_REQUEST, error_text
from possync.simulator.session import Session
from possync.simulator.stats import Counters, SimulatorStats

_HALTS = {1100: "connectivity", 2103: "market data farm"}
"""Notices after which a real gateway streams nothing, until lifted by one of `_LIFTS`."""
_LIFTS = {1101: "connectivity", 1102: "connectivity", 2104: "market data farm"}
DATA_LOST = 1101


class Gateway:
    """Sessions, portfolio, market and counters of one simulated gateway.

    Not thread-safe: every method runs on the simulator's event loop (the Simulator marshals calls).
    `open()`/`close()` bracket each run of the loop; the portfolio, quotes, line limit and counters
    persist from one run to the next, as an account's do across a gateway restart.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.accounts = config.accounts
        as_of = config.as_of or datetime.now(UTC).date()
        self.portfolio = Portfolio(config.accounts, config.positions, config.seed, as_of)
        self.market = Market(
            config.max_lines, config.tick_hz, config.snapshot_hold, config.seed, config.tick_slots
        )
        self.pricing = Pricing(self.portfolio, self.market)
        self.market.underlyings = self.pricing
        self.pnl = PnlBook(self, config.pnl_interval)
        self.counters = Counters()
        self.access = MarketAccess(config, self.portfolio, self.market, self.counters)
        self.sessions: set[Session] = set()
        self._clients: dict[int, Session] = {}
        self._running: asyncio.Event | None = None
        self._pump: asyncio.Task[None] | None = None
        self._pnl_pump: asyncio.Task[None] | None = None
        self._next_order_id = 1

    @property
    def paused(self) -> bool:
        """Whether the gateway accepts connections but answers nothing (a hung gateway)."""
        return self._running is not None and not self._running.is_set()

    async def open(self) -> None:
        """Start a run on the current loop: unpaused, pump ticking."""
        self._running = asyncio.Event()
        self._running.set()
        self.market.lift("paused")
        self._pump = asyncio.create_task(self.market.pump(), name="simulator-tick-pump")
        self._pnl_pump = asyncio.create_task(self.pnl.pump(), name="simulator-pnl-pump")

    async def close(self) -> None:
        """End the run: hang up on every client and stop the pump."""
        for session in list(self.sessions):
            session.close()
            self.forget(session)
        for task in (self._pump, self._pnl_pump):
            if task is not None:
                task.cancel()
        self._running = self._pump = self._pnl_pump = None

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one TCP connection until it ends (the API server's connection callback)."""
        session = Session(self, reader, writer)
        self.sessions.add(session)
        self.counters.connections += 1
        # stop() cancels this task; ending quietly spares asyncio's stream callback a CancelledError (3.11)
        with contextlib.suppress(asyncio.CancelledError):
            await session.run()

    async def wait_running(self) -> None:
        """Return at once, or when the gateway is resumed if it is paused."""
        if self._running is not None:
            await self._running.wait()

    def register(self, session: Session, client_id: int) -> bool:
        """Bind a client id to a session after startApi; False when another live session uses it."""
        if client_id in self._clients:
            return False
        self._clients[client_id] = session
        return True

    def forget(self, session: Session) -> None:
        """A session ended: free its client id and its lines (idempotent)."""
        self.sessions.discard(session)
        if session.client_id is not None and self._clients.get(session.client_id) is session:
            del self._clients[session.client_id]
        released = self.market.release(session)
        self.pnl.release(session)
        if released:
            logger.info("client {} gone: released {} market-data lines", session.client_id, released)

    def market_price(self, contract: DemoContract) -> float:
        """A contract's current mark (see pricing.py): what every valuation of it uses."""
        return self.pricing.mark(contract)

    def next_order_id(self) -> int:
        """A fresh order id for nextValidId."""
        self._next_order_id += 1
        return self._next_order_id

    def drop_all(self) -> int:
        """Close every client connection, as a gateway that goes away does; return how many."""
        sessions = list(self.sessions)
        for session in sessions:
            session.close()
            self.forget(session)
        logger.info("dropped {} client connections", len(sessions))
        return len(sessions)

    def send_error(self, code: int, text: str | None = None) -> int:
        """Send an error/notice to every API client, with its side effects; return how many got it.

        1100 and 2103 stop streaming; 1101/1102 and 2104 lift that; 1101 also drops every market-data,
        positions, account-updates and P&L subscription (the clients must subscribe again): IB's "data lost".
        """
        if code in _HALTS:
            self.market.halt(_HALTS[code])
        if code in _LIFTS:
            self.market.lift(_LIFTS[code])
        if code == DATA_LOST:
            logger.info("1101: dropped all {} market-data subscriptions", self.market.release_all())
            self._drop_account_data()
        message = outgoing.error(NO_REQUEST, code, text or error_text(code))
        clients = list(self._clients.values())
        for session in clients:
            session.send(message)
        logger.info("sent error {} to {} clients", code, len(clients))
        return len(clients)

    def _drop_account_data(self) -> None:
        """1101: forget every client's positions, account-updates and P&L subscriptions."""
        for session in self.sessions:
            session.positions_subscribed = False
            session.account_updates = None
        logger.info("1101: dropped every positions/account subscription and {} P&L", self.pnl.release_all())

    def set_max_lines(self, n: int) -> None:
        """Change the line limit; lines already held stay held, new ones are refused until under it."""
        if n < 0:
            raise ValueError(f"max lines {n} is negative: use 0 or more")
        self.market.max_lines = n
        logger.info("market-data line limit is now {}", n)

    def set_position(self, conid: int, quantity: float, account: str | None = None) -> DemoPosition:
        """Change a position and push it to position and account-update subscribers; book what it closed."""
        before = {p.account: p.position for p in self.portfolio.positions() if p.conid == conid}
        position = self.portfolio.set_position(conid, quantity, account)
        contract = self.portfolio.contract(conid)
        assert contract is not None, "set_position refuses unknown conids"
        unit_price = self.pricing.mark(contract) * contract.price_factor
        self.pricing.ledger.trade(before.get(position.account, 0.0), position, unit_price)
        for session in self._clients.values():
            session.push_position(position)
        logger.info("position {} {} is now {}", position.account, conid, quantity)
        return position

    def pause(self) -> None:
        """Hang: keep accepting and reading, answer and stream nothing until `resume()`."""
        if self._running is not None:
            self._running.clear()
        self.market.halt("paused")
        logger.info("paused: the gateway answers nothing")

    def resume(self) -> None:
        """Stop hanging: answer what was asked meanwhile, stream again."""
        if self._running is not None:
            self._running.set()
        self.market.lift("paused")
        for session in self.sessions:
            session.flush_held()
        logger.info("resumed")

    def stats(self) -> SimulatorStats:
        """A snapshot of clients, lines and counters."""
        counters = self.counters
        return SimulatorStats(
            running=self._running is not None,
            clients=len(self._clients),
            client_ids=sorted(self._clients),
            sockets=len(self.sessions),
            subscriptions=self.market.lines_held,
            max_lines=self.market.max_lines,
            requests=dict(sorted(counters.requests.items())),
            orders=counters.orders,
            refused_101=counters.refused_101,
            pacing_violations=counters.pacing_violations,
            connections=counters.connections,
            bad_clients=counters.bad_clients,
            paused=self.paused,
            streaming_halted=self.market.halted,
            ticks_sent=self.market.ticks_sent,
            pump_cycles=self.market.cycles,
            pump_max_lag=round(self.market.max_lag, 4),
            peak_lines=self.market.peak_lines,
            snapshots=counters.snapshots,
            refusals=dict(sorted(counters.refusals.items())),
            data_warnings=dict(sorted(counters.data_warnings.items())),
            competing_session=self.access.competing,
            market=mode_name(self.access.hours.mode),
            **self._subscription_stats(),
        )

    def _subscription_stats(self) -> dict[str, object]:
        """Who holds which account-data subscription (the stats fields after `snapshots`)."""
        singles, accounts = self.pnl.counts()
        clients = [s for s in self.sessions if s.client_id is not None]
        return {
            "pnl_single_subscriptions": singles,
            "pnl_subscriptions": accounts,
            "position_clients": sorted(s.client_id for s in clients if s.positions_subscribed),
            "account_update_clients": {s.client_id: s.account_updates for s in clients if s.account_updates},
        }

    def option_model(self, conid: int) -> Greeks:
        """An option's model computation at its underlying's current mark."""
        contract = self.portfolio.contract(conid)
        if contract is None or contract.sec_type != "OPT":
            raise ValueError(f"conid {conid} is not a known option: use an option's conid (GET /positions)")
        return self.pricing.model(contract)

    def valuations(self, account: str | None = None) -> list[Valuation]:
        """Every open position (of `account`, or of all) valued as pnlSingle and updatePortfolio value it."""
        held = [p for p in self.portfolio.positions() if p.position and account in (None, p.account)]
        return [self.pricing.valuation(p) for p in held]

    def positions(self) -> list[DemoPosition]:
        """Every account's positions, closed ones included."""
        return self.portfolio.positions()
