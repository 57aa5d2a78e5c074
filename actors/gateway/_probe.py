"""A short look at a gateway for `run.py doctor`: connect read-only, read the managed accounts, and ask for
market data on a few contracts; report what the gateway said, refusals included, and disconnect.

`probe_gateway` runs on a loop of its own in a thread of its own and returns plain data (`GatewayProbe`):
the checklist that judges it lives above the gateway package. Nothing here places, modifies or cancels an
order; the probe holds each market-data line for at most `wait_s`.
"""

import asyncio
import math
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from possync.actors.gateway._client import IbClient
from possync.actors.gateway._connect import ClientIdInUse, GatewayUnreachable, connect
from possync.messages.domain import Contract

DATA_TYPES = {1: "live", 2: "frozen", 3: "delayed", 4: "delayed_frozen"}
"""IB's market data types (reqMarketDataType / the marketDataType message) by number."""
_NOT_ABOUT_A_REQUEST = range(2100, 2200)
"""Farm and connectivity notices: informational, whatever request id they carry."""
_PACING_PER_S = 40.0


@dataclass(frozen=True)
class MarketDataProbe:
    """What one contract's market-data request got within the window: ticks, the data type of the last one,
    and every error the gateway sent about it (code, text)."""

    conid: int
    symbol: str
    ticks: int = 0
    data_type: str = ""
    errors: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class GatewayProbe:
    """The outcome of `probe_gateway`. `error` is "" when an API session was made."""

    error: str = ""
    client_id: int = 0
    """The client id the probe connected with (the configured one, or the next free one after a 326)."""
    client_id_in_use: str = ""
    """The gateway's 326 text when the configured client id was in use ("" when it was free)."""
    server_version: int = 0
    accounts: tuple[str, ...] = ()
    market_data: tuple[MarketDataProbe, ...] = ()
    notices: tuple[tuple[int, str], ...] = field(default=())
    """Errors and notices not about one request (farm status 2104/2106/2158, 1100, ...)."""


def probe_gateway(
    client: IbClient,
    host: str,
    port: int,
    client_id: int,
    timeout_s: float,
    contracts: Sequence[Contract],
    wait_s: float = 4.0,
    sample: int = 5,
) -> GatewayProbe:
    """Probe the gateway at `host:port` (see the module docstring); `contracts` are the ones to ask market
    data for (at most `sample`; none: the first positions the gateway reports)."""
    outcome: list[GatewayProbe] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            job = _probe(client, host, port, client_id, timeout_s, list(contracts)[:sample], wait_s, sample)
            outcome.append(loop.run_until_complete(job))
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="possync-doctor-probe", daemon=True)
    thread.start()
    thread.join(timeout_s * 3 + wait_s + 10)
    return outcome[0] if outcome else GatewayProbe(error=f"the probe of {host}:{port} did not finish in time")


async def _probe(
    client: IbClient,
    host: str,
    port: int,
    client_id: int,
    timeout_s: float,
    contracts: list[Contract],
    wait_s: float,
    sample: int,
) -> GatewayProbe:
    ib = client.new_ib(_PACING_PER_S)
    try:
        used, in_use = await _connect(ib, host, port, client_id, timeout_s)
    except (GatewayUnreachable, ClientIdInUse) as error:
        return GatewayProbe(error=str(error))
    try:
        watch = _Watch(ib)
        contracts = contracts or _held(ib, sample)
        market_data = await _market_data(client, ib, watch, contracts, wait_s)
        return GatewayProbe(
            client_id=used,
            client_id_in_use=in_use,
            server_version=ib.client.serverVersion(),
            accounts=tuple(ib.managedAccounts()),
            market_data=market_data,
            notices=tuple(watch.notices),
        )
    finally:
        ib.disconnect()


async def _connect(ib: Any, host: str, port: int, client_id: int, timeout_s: float) -> tuple[int, str]:
    """Connect with `client_id`, or after a 326 with the next free one: (the id used, the 326 text)."""
    try:
        return await connect(ib, host, port, client_id, timeout_s, "", True, tries=1), ""
    except ClientIdInUse as error:
        in_use = str(error)
    used = await connect(ib, host, port, client_id + 1, timeout_s, "", True, tries=8)
    return used, in_use


def _held(ib: Any, sample: int) -> list[Contract]:
    """The first `sample` contracts the login holds (when the registry names none)."""
    held = {p.contract.conId: p.contract for p in ib.positions()}
    first = list(held.items())[:sample]
    return [Contract(conid, c.symbol, c.secType, exchange=c.exchange) for conid, c in first]


class _Watch:
    """Collects the gateway's errors by conid (the client names the request's contract) and counts ticks by
    ticker, while the probe runs."""

    def __init__(self, ib: Any) -> None:
        self.errors: dict[int, list[tuple[int, str]]] = {}
        self.notices: list[tuple[int, str]] = []
        self.ticks: Counter[int] = Counter()
        ib.errorEvent += self._on_error
        ib.pendingTickersEvent += self._on_tickers

    def _on_error(self, req_id: int, code: int, message: str, contract: Any = None, *_: object) -> None:
        conid = getattr(contract, "conId", 0)
        if req_id < 0 or code in _NOT_ABOUT_A_REQUEST or not conid:
            self.notices.append((code, message))
        else:
            self.errors.setdefault(conid, []).append((code, message))

    def _on_tickers(self, tickers: Any) -> None:
        for ticker in tickers:
            self.ticks[id(ticker)] += 1


async def _market_data(
    client: IbClient, ib: Any, watch: _Watch, contracts: list[Contract], wait_s: float
) -> tuple[MarketDataProbe, ...]:
    """Subscribe to each contract, wait until each ticked or was refused (at most `wait_s`), cancel all."""
    requests: list[tuple[Contract, Any]] = []
    for contract in contracts:
        ib_contract = client.contract(contract.conid, contract.exchange or "SMART")
        requests.append((contract, ib.reqMktData(ib_contract, "", False, False)))
        await asyncio.sleep(1 / _PACING_PER_S)
    loop = asyncio.get_running_loop()
    ends = loop.time() + wait_s
    while loop.time() < ends and not all(_answered(watch, c.conid, t) for c, t in requests):
        await asyncio.sleep(0.05)
    for _, ticker in requests:
        if ib.isConnected():
            ib.cancelMktData(ticker.contract)
    return tuple(_result(watch, contract, ticker) for contract, ticker in requests)


def _answered(watch: _Watch, conid: int, ticker: Any) -> bool:
    return bool(watch.errors.get(conid)) or watch.ticks[id(ticker)] > 0


def _result(watch: _Watch, contract: Contract, ticker: Any) -> MarketDataProbe:
    ticks = watch.ticks[id(ticker)]
    kind = getattr(ticker, "marketDataType", 0)
    return MarketDataProbe(
        contract.conid,
        contract.symbol,
        ticks,
        DATA_TYPES.get(kind, str(kind)) if ticks and not math.isnan(kind or 0) else "",
        tuple(watch.errors.get(contract.conid, ())),
    )
