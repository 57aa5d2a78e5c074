"""The line budget: never more lines than the budget, priorities, and the gateway's real limit (101)."""

from collections.abc import Callable

import pytest

from tests.helpers import wait_until
from tests.streaming.support import Harness, LineSampler, active


@pytest.mark.timeout(90)
def test_budget_10_with_15_active_never_holds_more_than_10_lines(
    start_harness: Callable[..., Harness],
) -> None:
    harness = start_harness(active_count=0, positions=40, slots={"budget": 10})
    positions = harness.sim.positions()
    with LineSampler(harness.sim) as sampler:
        for position in positions[:15]:
            harness.activate(active(position, priority=3))
        wait_until(lambda: len(harness.queued()) == 5 and len(harness.settled() or ()) == 10, 30)
        assert harness.slots().waiting == 5

        important = positions[20]
        harness.activate(active(important, priority=1))
        wait_until(lambda: important.conid in (harness.settled() or ()), 30)

    assert sampler.maximum <= 10, f"the gateway held {sampler.maximum} lines with a budget of 10"
    wait_until(lambda: harness.lines() == 10, 10, message="the important line is requested at the gateway")
    assert harness.slots().demotions == 1
    assert len(harness.queued()) == 6
    assert "demoted" in " ".join(harness.queued().values())


@pytest.mark.timeout(90)
def test_the_least_important_stream_is_demoted_first(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(active_count=0, positions=20, slots={"budget": 3})
    p = harness.sim.positions()
    for position, priority in ((p[0], 2), (p[1], 9), (p[2], 4)):
        harness.activate(active(position, priority))
    harness.wait_streaming({p[0].conid, p[1].conid, p[2].conid})

    harness.activate(active(p[3], priority=1))

    harness.wait_streaming({p[0].conid, p[2].conid, p[3].conid})
    assert harness.queued() == {p[1].conid: "demoted for a more important contract"}


@pytest.mark.timeout(90)
def test_without_preemption_first_come_first_served(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(active_count=0, positions=20, slots={"budget": 2, "preempt": False})
    p = harness.sim.positions()
    harness.activate(active(p[0], priority=9))
    harness.activate(active(p[1], priority=9))
    harness.wait_streaming({p[0].conid, p[1].conid})

    harness.activate(active(p[2], priority=1))
    wait_until(lambda: p[2].conid in harness.queued(), 10)
    harness.deactivate(p[0].conid)

    harness.wait_streaming({p[1].conid, p[2].conid})
    assert harness.slots().demotions == 0


@pytest.mark.timeout(90)
def test_a_gateway_limit_below_the_budget_shrinks_it_and_queued_contracts_come_back(
    start_harness: Callable[..., Harness],
) -> None:
    harness = start_harness(
        active_count=10, positions=40, sim={"max_lines": 8}, slots={"budget": 10, "regrow_s": 0.3}
    )
    wait_until(lambda: harness.sim.stats().refused_101 >= 2, 30)
    wait_until(lambda: len(harness.queued()) == 2, 30, message="the refused contracts fall back to the queue")
    wait_until(lambda: len(harness.settled() or ()) == 8, 30, message="nothing is left half-subscribed")
    assert harness.slots().effective_budget <= 9
    assert all("101" in reason for reason in harness.queued().values())

    harness.sim.set_max_lines(100)

    harness.wait_streaming(set(harness.active))
    assert harness.slots().effective_budget == 10
    assert harness.queued() == {}
