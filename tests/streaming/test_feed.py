"""StreamFeed: how the ticks and position changes of one line become observations."""

from datetime import UTC, datetime, timedelta

from possync.actors.streaming._feed import StreamFeed
from possync.messages.domain import Contract, Observation, Source, Tick
from possync.messages.routing import PositionChanged
from possync.supervisors import FakeClock

AAPL = Contract(265598, "AAPL", "STK")
T0 = datetime(2026, 1, 5, 15, 30, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def position(account: str, quantity: float, avg_cost: float = 150.0, seconds: float = 0.0) -> PositionChanged:
    return PositionChanged(account, AAPL, quantity, avg_cost, at(seconds))


def feed(*positions: PositionChanged, clock: FakeClock | None = None) -> StreamFeed:
    """A feed of AAPL whose unheld rows go to DU0, holding `positions` before the first tick."""
    stream_feed = StreamFeed(clock or FakeClock(), AAPL, "DU0")
    stream_feed.set_positions(positions)
    return stream_feed


def summary(rows: tuple[Observation, ...] | list[Observation]) -> list[tuple[str, float, float | None]]:
    """(account, position, market price) of each observation."""
    return [(row.account, row.position, row.market_price) for row in rows]


def test_a_tick_with_a_new_price_makes_one_observation_per_account() -> None:
    stream_feed = feed(position("DU1", 100.0, 150.0), position("DU2", -5.0, 149.0))

    rows = stream_feed.on_tick(Tick(151.25, at(1)))

    assert rows == (
        Observation("DU1", AAPL, 100.0, 150.0, 151.25, Source.STREAM, at(1)),
        Observation("DU2", AAPL, -5.0, 149.0, 151.25, Source.STREAM, at(1)),
    )


def test_a_tick_without_a_price_or_with_the_same_price_is_counted_but_observes_nothing() -> None:
    clock = FakeClock(start=100.0)
    stream_feed = feed(position("DU1", 100.0), clock=clock)
    assert stream_feed.last_tick_at is None

    assert len(stream_feed.on_tick(Tick(151.25, at(1)))) == 1
    clock.advance(2.5)
    assert stream_feed.on_tick(Tick(151.25, at(2))) == ()
    assert stream_feed.on_tick(Tick(None, at(3))) == ()

    assert stream_feed.ticks == 3
    assert stream_feed.last_tick_at == 102.5
    assert stream_feed.market_price == 151.25


def test_a_contract_no_account_holds_is_observed_as_position_zero_of_the_default_account() -> None:
    rows = feed().on_tick(Tick(151.25, at(1)))

    assert rows == (Observation("DU0", AAPL, 0.0, None, 151.25, Source.STREAM, at(1)),)


def test_a_position_change_before_any_price_observes_nothing_but_counts_at_the_first_tick() -> None:
    stream_feed = feed()

    assert stream_feed.position_changed(position("DU1", 40.0)) == ()

    assert summary(stream_feed.on_tick(Tick(151.25, at(1)))) == [("DU1", 40.0, 151.25)]


def test_a_position_change_once_a_price_is_known_is_observed_at_its_own_time() -> None:
    stream_feed = feed(position("DU1", 100.0))
    stream_feed.on_tick(Tick(151.25, at(1)))

    rows = stream_feed.position_changed(position("DU2", 30.0, 152.0, seconds=5))

    assert rows == (Observation("DU2", AAPL, 30.0, 152.0, 151.25, Source.STREAM, at(5)),)


def test_a_changed_position_replaces_the_accounts_previous_one() -> None:
    stream_feed = feed(position("DU1", 100.0), position("DU2", 10.0))
    stream_feed.position_changed(position("DU1", 60.0))

    rows = stream_feed.on_tick(Tick(151.25, at(1)))

    assert sorted(summary(rows)) == [("DU1", 60.0, 151.25), ("DU2", 10.0, 151.25)]


def test_take_rows_hands_over_every_observation_once_in_order() -> None:
    stream_feed = feed(position("DU1", 100.0))
    stream_feed.on_tick(Tick(151.0, at(1)))
    stream_feed.position_changed(position("DU1", 80.0, seconds=2))
    stream_feed.on_tick(Tick(152.0, at(3)))

    assert summary(stream_feed.take_rows()) == [
        ("DU1", 100.0, 151.0),
        ("DU1", 80.0, 151.0),
        ("DU1", 80.0, 152.0),
    ]
    assert stream_feed.take_rows() == []


def test_a_closed_feed_neither_counts_ticks_nor_makes_observations() -> None:
    stream_feed = feed(position("DU1", 100.0))
    stream_feed.on_tick(Tick(151.0, at(1)))
    stream_feed.take_rows()

    stream_feed.close()

    assert stream_feed.on_tick(Tick(152.0, at(2))) == ()
    assert stream_feed.position_changed(position("DU1", 80.0)) == ()
    assert stream_feed.ticks == 1
    assert stream_feed.take_rows() == []
