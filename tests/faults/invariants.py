"""The invariants every fault scenario (and the chaos runner) ends with, as functions that list violations.

What is *acknowledged*: an observation is acknowledged once the lake writer has accepted it, i.e. journaled
it (one os.write of its record) and answered `RowsAccepted` -- for asks (poller, reconciler) that is the
reply; streams tell, and the writer hands each observation it accepts to the service's `on_observation`
callbacks right after the journal write, in its own thread. `Acknowledged` records that callback, keyed by
the observation's identity (account, conid, source, event_ts, position, market_price). An observation told
to a writer that is restarting is never accepted, never acknowledged, and may be missing: that is allowed.

Exactly once, checked after the service stopped (`exactly_once`): every acknowledged identity is in
`position_updates` as many times as it was acknowledged (no loss, no duplicate), and no row is there that
was never acknowledged. With `strays_allowed` (a process killed with SIGKILL: a row journaled in the
instant before the kill, its acknowledgement not yet recorded) rows without acknowledgement are reported
but allowed -- never more than once.

Live invariants (`lines_agree`, `gateway_clean`, `restarts_explained`) and clean shutdown (`Leftovers`).
"""

import os
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pykka
from deltalake import DeltaTable

from possync.actors.lake._query import query
from possync.actors.lake._tables import POSITION_UPDATES
from possync.actors.names import CONNECTION, SLOT_ALLOCATOR
from possync.messages.connection import GetConnectionStatus
from possync.messages.domain import Observation
from possync.messages.slots import GetSlotStatus
from possync.simulator import Simulator
from possync.supervisors import EventKind, SupervisionEvent, SupervisionTree

Identity = tuple[str, int, str, int, float, float | None]
"""(account, conid, source, event_ts in µs since the epoch, position, market_price)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ASK_S = 5.0
CAUSES = frozenset({EventKind.EXITED, EventKind.START_FAILED, EventKind.ABANDONED})
"""Events that explain a restart: the child (or, for a stopped sibling, a sibling) ended abnormally."""


def identity(observation: Observation) -> Identity:
    """The identity of an observation, as `position_updates` stores it."""
    o = observation
    micros = (o.event_ts - _EPOCH) // timedelta(microseconds=1)
    return (o.account, o.contract.conid, str(o.source), micros, o.position, o.market_price)


class Acknowledged:
    """Every observation the lake writer accepted, counted by identity; thread-safe.

    Register it with `service.on_observation(acknowledged)`. With `path`, each identity is also appended
    to that file with one os.write (a SIGKILL of the process cannot undo it): `load(path)` reads them back.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[Identity] = Counter()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT) if path is not None else None

    def __call__(self, observation: Observation) -> None:
        key = identity(observation)
        with self._lock:
            self._counts[key] += 1
            if self._fd is not None:
                os.write(self._fd, msgspec.json.encode(key) + b"\n")

    def counts(self) -> Counter[Identity]:
        """How often each identity was acknowledged so far."""
        with self._lock:
            return Counter(self._counts)

    def close(self) -> None:
        """Close the file, if any."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    @staticmethod
    def load(path: Path) -> Counter[Identity]:
        """The identities appended to `path` (a torn last line, cut by a SIGKILL, is ignored)."""
        counts: Counter[Identity] = Counter()
        if not path.exists():
            return counts
        for line in path.read_bytes().splitlines():
            try:
                counts[tuple(msgspec.json.decode(line))] += 1  # type: ignore[arg-type]
            except msgspec.DecodeError:
                continue
        return counts


def lake_identities(root: Path) -> Counter[Identity]:
    """How often each identity is in `position_updates` under `root` (empty before the table exists)."""
    path = str(root / POSITION_UPDATES.name)
    if not DeltaTable.is_deltatable(path):
        return Counter()
    sql = "SELECT account, conid, source, CAST(event_ts AS BIGINT) AS ts, position, market_price FROM t"
    table = query(DeltaTable(path), sql).to_pydict()
    columns = (table[name] for name in ("account", "conid", "source", "ts", "position", "market_price"))
    return Counter(tuple(row) for row in zip(*columns, strict=True))  # type: ignore[misc]


@dataclass
class LakeCheck:
    """The outcome of `exactly_once`."""

    acknowledged: int
    rows: int
    lost: list[Identity] = field(default_factory=list)
    duplicated: list[Identity] = field(default_factory=list)
    strays: list[Identity] = field(default_factory=list)

    def problems(self, strays_allowed: bool = False) -> list[str]:
        """What violates exactly-once (strays only when they are not allowed)."""
        found = []
        if self.lost:
            found.append(f"{len(self.lost)} acknowledged observations missing from the lake: {self.lost[:3]}")
        if self.duplicated:
            found.append(
                f"{len(self.duplicated)} observations more often in the lake than acknowledged: "
                f"{self.duplicated[:3]}"
            )
        if self.strays and not strays_allowed:
            found.append(f"{len(self.strays)} rows in the lake never acknowledged: {self.strays[:3]}")
        return found


def exactly_once(acknowledged: Counter[Identity], lake: Counter[Identity]) -> LakeCheck:
    """Compare what was acknowledged with what the lake holds (see the module docstring)."""
    check = LakeCheck(sum(acknowledged.values()), sum(lake.values()))
    for key, times in acknowledged.items():
        if lake[key] < times:
            check.lost.append(key)
    for key, times in lake.items():
        wanted = acknowledged.get(key, 0)
        if times > max(wanted, 1):
            check.duplicated.append(key)
        elif wanted == 0:
            check.strays.append(key)
    return check


@dataclass(frozen=True)
class Lines:
    """Who holds market-data lines, as the allocator, the connection, the streams and the gateway say."""

    leased: frozenset[int]
    streaming: frozenset[int]
    gateway: int
    connection: int
    effective: int


def lines(tree: SupervisionTree, sim: Simulator, statuses: Iterable[tuple[int, str]]) -> Lines | None:
    """The line holders now, once no request is on its way to the gateway (else None, also while an actor
    asked is restarting). `statuses` are the (conid, state) of the streams (e.g. from `service.status()`).
    """
    try:
        connection, allocator = tree.whereis(CONNECTION), tree.whereis(SLOT_ALLOCATOR)
        if connection is None or allocator is None:
            return None
        before = connection.ask(GetConnectionStatus(), timeout=_ASK_S)
        slots = allocator.ask(GetSlotStatus(), timeout=_ASK_S)
        gateway = sim.stats().subscriptions
        streaming = frozenset(conid for conid, state in statuses if state == "streaming")
        after = connection.ask(GetConnectionStatus(), timeout=_ASK_S)
    except Exception:  # an actor asked is restarting (dead, timed out, or failed answering)
        return None
    if before.requests_pending or before.requests_sent != after.requests_sent or after.snapshots:
        return None
    leased = frozenset(h.conid for h in slots.holdings if not h.lent)
    return Lines(leased, streaming, gateway, after.subscriptions, slots.effective_budget)


def lines_agree(found: Lines | None, active: set[int]) -> list[str]:
    """Leases = lines at the gateway = streams streaming = min(active, effective budget); no duplicate."""
    if found is None:
        return ["the session is not settled (an actor is restarting or a request is on its way)"]
    problems = []
    wanted = min(len(active), found.effective)
    if not (len(found.leased) == found.gateway == found.connection == len(found.streaming) == wanted):
        problems.append(
            f"lines disagree: {len(found.leased)} leased, {found.gateway} at the gateway, {found.connection} "
            f"subscribed by the connection, {len(found.streaming)} streaming; want {wanted} "
            f"(active {len(active)}, effective budget {found.effective})"
        )
    if found.leased != found.streaming:
        problems.append(
            f"leased but not streaming: {sorted(found.leased - found.streaming)}; "
            f"streaming without a lease: {sorted(found.streaming - found.leased)}"
        )
    if not found.leased <= active:
        problems.append(f"lines held for inactive contracts: {sorted(found.leased - active)}")
    return problems


def gateway_clean(sim: Simulator) -> list[str]:
    """No order ever sent, no message above the gateway's rate."""
    stats = sim.stats()
    problems = []
    if stats.orders:
        problems.append(f"{stats.orders} orders sent to the gateway by a read-only service")
    if stats.pacing_violations:
        problems.append(f"{stats.pacing_violations} messages above the gateway's rate (pacing)")
    return problems


def restarts_explained(events: list[SupervisionEvent]) -> list[str]:
    """Every `restarting` event follows an abnormal end of that child incarnation, or its stop by its
    supervisor after an abnormal end of a sibling (rest_for_one, parking) since that child started."""
    problems = []
    kinds: dict[tuple[str, str, int], set[EventKind]] = defaultdict(set)
    last_cause: dict[str, int] = {}  # by supervisor: where its latest abnormal end of a child is
    started_at: dict[tuple[str, str], int] = {}
    for index, event in enumerate(events):
        key = (event.supervisor, event.child, event.incarnation)
        if event.kind is EventKind.RESTARTING:
            seen = kinds[key]
            sibling = last_cause.get(event.supervisor, -1) > started_at.get(key[:2], -1)
            if not (seen & CAUSES or (EventKind.STOPPED in seen and sibling)):
                problems.append(f"unexplained restart: {event}")
        kinds[key].add(event.kind)
        if event.kind in CAUSES:
            last_cause[event.supervisor] = index
        elif event.kind is EventKind.STARTED:
            started_at[key[:2]] = index
    return problems


class Leftovers:
    """Threads and pykka actors present before a service started; `now()` lists any new ones (except
    threads whose name starts with one of `ignored`, e.g. a simulated gateway restarted meanwhile)."""

    def __init__(self, ignored: tuple[str, ...] = ("simulator-",)) -> None:
        self._ignored = ignored
        self._threads = set(threading.enumerate())
        self._actors = {ref.actor_urn for ref in pykka.ActorRegistry.get_all()}

    def now(self) -> list[str]:
        """The threads and actors started since and still there."""
        threads = [
            t.name
            for t in threading.enumerate()
            if t not in self._threads and t.is_alive() and not t.name.startswith(self._ignored)
        ]
        actors = [
            ref.actor_class.__name__
            for ref in pykka.ActorRegistry.get_all()
            if ref.actor_urn not in self._actors
        ]
        return [f"thread {name}" for name in threads] + [f"actor {name}" for name in actors]
