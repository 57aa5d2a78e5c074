"""possync under benchmark: the whole service (the `possync.Service` facade) against a simulator process.

`start_service` registers the given positions as active (as a previous run leaves the registry), starts a
Service with everything under a temporary directory and a handler that stamps each streamed update with
`time.monotonic()` (`Updates`), and waits until every active contract has ticked. Nothing here changes
how the service works: default settings, except the gateway port, the lake and state paths, no HTTP
endpoint, and a line budget that fits the streams.
"""

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec
from deltalake import write_deltalake

from bench.common import wait_for
from possync import Service
from possync.actors.lake._tables import ACTIVE_STRATEGIES
from possync.config import Settings
from possync.messages.domain import Contract, Observation, utc_now
from possync.messages.lake import StrategyChange
from possync.simulator import DemoPosition

_client_ids = itertools.count(101)
ACTIVATE_PRIORITY = 5


def contract_of(position: DemoPosition) -> Contract:
    """The contract of one of the simulator's positions."""
    p = position
    return Contract(
        p.conid, p.symbol, p.sec_type, p.expiry, p.strike, p.right, p.currency, multiplier=p.multiplier
    )


def register(settings: Settings, actives: list[DemoPosition]) -> None:
    """Make `actives` active in the registry table before the service starts, as a previous run (or
    `run.py activate`) leaves it: the same append `run.py activate` makes, for all of them at once."""
    now = utc_now()
    changes = [
        StrategyChange(contract_of(p), "bench", ACTIVATE_PRIORITY, True, now, "bench") for p in actives
    ]
    data = ACTIVE_STRATEGIES.unpack(ACTIVE_STRATEGIES.pack(changes))
    path = str(Path(settings.lake.root) / ACTIVE_STRATEGIES.name)
    write_deltalake(path, data, mode="append", schema_mode="merge")


def settings_for(port: int, root: Path, streams: int, **sections: dict[str, Any]) -> Settings:
    """Default settings but for the gateway `port`, paths under `root`, a budget of `streams` lines (at
    least the default), no HTTP endpoint, and any `sections` overrides (e.g. poller={"batch_size": 500})."""
    default = Settings()
    tree: dict[str, dict[str, Any]] = {
        "ib": {"port": port, "client_id": next(_client_ids), "connect_timeout_s": 5.0},
        "slots": {"budget": max(streams, default.slots.budget)},
        "lake": {"root": str(root / "lake")},
        "queue": {"state_file": str(root / "state" / "queue.msgpack")},
        "http": {"port": 0},
    }
    for section, values in sections.items():
        tree.setdefault(section, {}).update(values)
    return msgspec.convert(tree, Settings)


class Updates:
    """What the `on_update` handler saw: the last receipt time per conid, a count, and (if `keep`) every
    update as (monotonic s, conid, market price). Appends from the stream threads are GIL-atomic."""

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self.items: list[tuple[float, int, float | None]] = []
        self.last: dict[int, float] = {}
        self.count = 0
        self.rows = 0
        self.prices: dict[int, float | None] = {}
        self._lock = threading.Lock()

    def __call__(self, observation: Observation) -> None:
        """The handler: stamp and keep one update of a new market price (rows for a new quote or greek
        at the same price are counted in `rows`, as the bare client reports price changes only)."""
        now = time.monotonic()
        conid = observation.contract.conid
        self.rows += 1
        if self.prices.get(conid) == observation.market_price:
            return
        self.prices[conid] = observation.market_price
        self.last[conid] = now
        self.count += 1
        if self.keep:
            self.items.append((now, conid, observation.market_price))

    def ticking_since(self, since: float, conids: Iterable[int]) -> bool:
        """Whether every one of `conids` has had an update at or after `since`."""
        return all(self.last.get(conid, -1.0) >= since for conid in conids)

    def first_after(self, since: float) -> dict[int, float]:
        """The first update time at or after `since`, per conid (needs `keep`)."""
        first: dict[int, float] = {}
        for at, conid, _ in self.items:
            if at >= since and conid not in first:
                first[conid] = at
        return first


def start_service(
    settings: Settings,
    actives: list[DemoPosition],
    updates: Updates,
    timeout_s: float = 60.0,
    on_observation: Callable[[Observation], None] | None = None,
    inline: bool = False,
) -> tuple[Service, float]:
    """Register `actives`, start the service and wait until each has ticked; (service, start-up seconds).

    Start-up runs from just before `Service.start()` to the first update of the last active contract.
    `on_observation` (if given) sees every observation the lake writer accepts, from the start.
    `inline`: `updates` is an inline `on_update` handler (in the network thread) instead of a queued one.
    """
    register(settings, actives)
    service = Service(settings)
    service.on_update(updates, inline=inline)
    if on_observation is not None:
        service.on_observation(on_observation)
    started = time.monotonic()
    service.start()
    try:
        conids = [p.conid for p in actives]
        ticking = wait_for(
            lambda: updates.ticking_since(started, conids), timeout_s, f"{len(conids)} streams ticking"
        )
    except BaseException:
        service.stop()
        raise
    return service, ticking - started
