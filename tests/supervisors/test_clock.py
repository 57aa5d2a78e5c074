"""Clocks and schedulers: fake ones fire only on advance, in order; the real one fires and closes."""

import threading

import pytest

from possync.supervisors import FakeClock, FakeScheduler, ThreadScheduler


def test_the_fake_scheduler_fires_due_timers_in_order_at_their_due_time() -> None:
    scheduler = FakeScheduler(FakeClock(start=100.0))
    fired: list[tuple[str, float]] = []
    for name, delay in (("late", 3.0), ("early", 1.0), ("cancelled", 2.0), ("tie", 1.0)):
        timer = scheduler.schedule(delay, lambda name=name: fired.append((name, scheduler.clock.now())))
        if name == "cancelled":
            timer.cancel()
    assert scheduler.pending() == 3
    scheduler.advance(2.5)
    assert fired == [("early", 101.0), ("tie", 101.0)]
    assert scheduler.clock.now() == 102.5
    scheduler.advance(0.5)
    assert fired[-1] == ("late", 103.0)
    assert scheduler.pending() == 0


def test_a_timer_scheduled_by_a_firing_timer_fires_in_the_same_advance() -> None:
    scheduler = FakeScheduler()
    fired: list[float] = []
    scheduler.schedule(1, lambda: scheduler.schedule(1, lambda: fired.append(scheduler.clock.now())))
    scheduler.advance(5)
    assert fired == [2.0]


def test_time_only_moves_forward() -> None:
    with pytest.raises(ValueError, match="time only moves forward"):
        FakeScheduler().advance(-1)
    with pytest.raises(ValueError, match="a delay cannot be negative"):
        FakeScheduler().schedule(-1, lambda: None)


def test_the_thread_scheduler_fires_cancels_and_closes() -> None:
    before = set(threading.enumerate())
    scheduler = ThreadScheduler()
    ran: list[str] = []
    fired = threading.Event()

    def schedule_then_cancel() -> None:  # runs in the timer thread, which cannot fire anything meanwhile
        scheduler.schedule(0.0, lambda: ran.append("cancelled")).cancel()
        scheduler.schedule(0.0, fired.set)

    scheduler.schedule(0.0, schedule_then_cancel)
    assert fired.wait(5)
    scheduler.close()
    assert ran == []
    assert set(threading.enumerate()) <= before
