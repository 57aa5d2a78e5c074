"""The fault suite's test bench: the real service in this process against a simulated gateway over TCP.

`Rig.start(sim, tmp)` registers the first `active` positions in active_strategies, starts the service with
short timeouts (`fault_settings`), records every acknowledged observation and every supervision event, and
waits until the active contracts stream. A scenario injects its fault, then calls `rig.finish()`, which
checks every invariant of `tests.faults.invariants` (settled lines, clean gateway, explained restarts),
stops the service, and checks exactly-once and that nothing of the tree is left.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from possync import Service
from possync.config import Settings
from possync.simulator import Simulator
from possync.supervisors import EventKind, SupervisionEvent
from tests.app.support import register_active, scenario_settings
from tests.faults import invariants
from tests.faults.invariants import Acknowledged, Leftovers
from tests.helpers import holds_throughout, wait_until

SETTLE_S = 30.0
"""How long a scenario may take to recover once its fault is over."""

FAST = {
    "ib": {"connect_timeout_s": 3.0, "lost_grace_s": 2.0},
    "slots": {"regrow_s": 0.5, "reconcile_s": 0.5},
    "streams": {"silent_after_s": 5.0},
    "poller": {"interval_s": 0.5, "request_timeout_s": 1.5, "reconcile_interval_s": 2.0},
    "lake": {"flush_interval_s": 0.2},
    "queue": {"save_interval_s": 0.5, "backoff_min_s": 0.5, "lease_s": 3.0},
    "supervision": {"intensity": 50, "period_s": 10.0, "backoff_min_s": 0.05, "backoff_max_s": 0.5},
}
"""Short grace periods, timeouts and backoffs, so that every fault is over and recovered from quickly."""


def fault_settings(gateway_port: int, tmp: Path, **overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The service's settings (TOML-like sections) for the fault scenarios; `overrides` by section."""
    sections = scenario_settings(gateway_port, tmp)
    for section, values in (*FAST.items(), *overrides.items()):
        sections.setdefault(section, {}).update(values)
    return sections


@dataclass
class Rig:
    """One service under test and what the invariants need (see the module docstring)."""

    sim: Simulator
    service: Service
    root: Path
    active: set[int]
    acknowledged: Acknowledged = field(default_factory=Acknowledged)
    streamed: list[int] = field(default_factory=lambda: [0])
    """Streamed updates a queued `on_update` handler got (as an embedding bot's would: the dispatcher is
    only told when some handler is queued)."""
    events: list[SupervisionEvent] = field(default_factory=list)
    leftovers: Leftovers = field(default_factory=Leftovers)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, sim: Simulator, tmp: Path, active: int = 5, **overrides: dict[str, Any]) -> "Rig":
        """Start the service on `sim` with its first `active` positions active, and wait until they stream."""
        sections = fault_settings(sim.port, tmp, **overrides)
        root = Path(sections["lake"]["root"])
        chosen = sim.positions()[:active]
        register_active(root, chosen)
        rig = cls(
            sim, Service(msgspec.convert(sections, Settings), http_port=0), root, {p.conid for p in chosen}
        )
        rig.service.on_observation(rig.acknowledged)
        rig.service.on_update(rig._count_update)
        rig.service.tree.events.subscribe(rig._record)
        rig.service.start()
        try:
            rig.wait_settled()
        except BaseException:
            rig.service.stop()
            raise
        return rig

    def _count_update(self, observation: Any) -> None:
        self.streamed[0] += 1

    def _record(self, event: SupervisionEvent) -> None:
        with self._lock:
            self.events.append(event)

    # --- what scenarios look at ---

    def lines(self) -> invariants.Lines | None:
        """Who holds lines now, once the session is settled (else None)."""
        try:
            streams = [(s.conid, s.state) for s in self.service.status().streams]
        except Exception:  # the status document could not be built: not settled
            return None
        return invariants.lines(self.service.tree, self.sim, streams)

    def settled(self, streaming: set[int] | None = None) -> invariants.Lines | None:
        """The lines once they agree with `streaming` (default: every active contract), else None."""
        found = self.lines()
        wanted = self.active if streaming is None else streaming
        return found if not invariants.lines_agree(found, wanted) and found.streaming == wanted else None  # type: ignore[union-attr]

    def wait_settled(self, streaming: set[int] | None = None, timeout: float = SETTLE_S) -> invariants.Lines:
        """Wait until exactly `streaming` (default: the active contracts) stream, with agreeing lines."""
        return wait_until(
            lambda: self.settled(streaming), timeout, 0.05, message=f"settled: {self.problems(streaming)}"
        )

    def wait_event(self, kind: EventKind, child: str, after: int = 0, timeout: float = SETTLE_S) -> None:
        """Wait for a supervision event of `kind` about `child` (among the events from index `after` on)."""

        def happened() -> bool:
            with self._lock:
                return any(e.kind is kind and e.child == child for e in self.events[after:])

        wait_until(happened, timeout, 0.01, message=f"{kind} of {child}")

    def mark(self) -> int:
        """The index of the next supervision event (for `wait_event(after=...)`)."""
        with self._lock:
            return len(self.events)

    def restarts(self, child: str) -> int:
        """How often `child` was restarted."""
        with self._lock:
            return sum(1 for e in self.events if e.kind is EventKind.RESTARTING and e.child == child)

    def problems(self, streaming: set[int] | None = None) -> list[str]:
        """Every live invariant violated now."""
        wanted = self.active if streaming is None else streaming
        with self._lock:
            events = list(self.events)
        return (
            invariants.lines_agree(self.lines(), wanted)
            + invariants.gateway_clean(self.sim)
            + invariants.restarts_explained(events)
        )

    # --- the end of every scenario ---

    def finish(self, streaming: set[int] | None = None, strays_allowed: bool = False) -> invariants.LakeCheck:
        """Check the live invariants once settled, stop, and check exactly-once and clean shutdown."""
        try:
            self.wait_settled(streaming)
            assert self.problems(streaming) == []
            assert self.service.running, self.service.tree.failure
        finally:
            self.stop()
        check = invariants.exactly_once(self.acknowledged.counts(), invariants.lake_identities(self.root))
        problems = check.problems(strays_allowed)
        assert not problems, problems
        assert check.acknowledged > 0, "no observation was acknowledged: the scenario proved nothing"
        return check

    def stop(self) -> None:
        """Stop the service (idempotent) and wait until none of its threads or actors is left."""
        self.service.stop()
        self.sim.resume()
        wait_until(lambda: not self.leftovers.now(), 10, message=f"left after stop: {self.leftovers.now()}")
        assert invariants.gateway_clean(self.sim) == []


def during(seconds: float, condition: Callable[[], bool], message: str = "") -> None:
    """Keep a fault on for `seconds` (it lasts a time span), asserting `condition` all along."""
    holds_throughout(condition, seconds, message or f"{condition} stopped holding during the fault")
