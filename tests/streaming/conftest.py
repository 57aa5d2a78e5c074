"""Fixtures of the streaming tests: a running Harness, stopped and checked for leftovers after the test."""

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from possync.simulator import Simulator
from tests.helpers import captured_log, wait_until
from tests.streaming.support import Harness, active, settings_for


@pytest.fixture
def start_harness(simulator_factory: Callable[..., Simulator]) -> Iterator[Callable[..., Harness]]:
    """Start Harnesses: `active_count` of the portfolio's positions active, settings overridden by section.

    Each gets a simulator of `positions` positions with the `sim` settings, unless given one (`on`).

    After the test every tree is stopped, and each must leave nothing behind: no thread, no client
    connection, no line at the gateway; and the gateway must have seen no order and no pacing violation.
    """
    before = set(threading.enumerate())
    started: list[Harness] = []

    def start(
        active_count: int = 20,
        positions: int = 200,
        sim: dict[str, Any] | None = None,
        on: Simulator | None = None,
        **sections: Any,
    ) -> Harness:
        simulator = on or simulator_factory(positions=positions, **(sim or {}))
        actives = [active(p) for p in simulator.positions()[:active_count]]
        harness = Harness(simulator, settings_for(simulator, **sections), actives)
        harness.tree.start()
        started.append(harness)
        return harness

    yield start
    for harness in started:
        harness.tree.stop()
    for harness in started:
        stats = harness.sim.stats()
        assert stats.orders == 0, "a read-only service never sends an order"
        assert stats.pacing_violations == 0, "every request is paced below the gateway's limit"
        if stats.running:
            wait_until(lambda h=harness: h.sim.stats().clients == 0 == h.sim.stats().subscriptions, 10)
    leftovers = lambda: [t for t in threading.enumerate() if t not in before and t.name != "simulator-loop"]  # noqa: E731
    wait_until(lambda: not leftovers(), 10, message=f"threads left behind: {leftovers()}")


@pytest.fixture
def log_lines() -> Iterator[list[tuple[str, str]]]:
    """(level, message) of everything the `actors` package logs during the test."""
    with captured_log("DEBUG", levels=True) as lines:
        yield lines


import pytest  # noqa: E402

from tests.conftest import each_ib_client as _each  # noqa: E402
from tests.helpers import IB_CLIENTS  # noqa: E402

each_ib_client = pytest.fixture(autouse=True, params=IB_CLIENTS)(_each)
"""Every test of this folder runs once per IB client library (ib_insync, ib_async)."""
