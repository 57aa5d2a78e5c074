"""StreamFeed: how the ticks and position changes of one line become observations."""

from datetime import UTC, datetime, timedelta

from possync.actors.streaming._feed import StreamFeed
from possync.messages.domain import Contract, Greeks, Observation, Quote, Source, Tick, Value
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
        Observation("DU1", AAPL, 100.0, 150.0, 151.25, Source.STREAM, at(1), value=Value(15125.0, 125.0)),
        Observation("DU2", AAPL, -5.0, 149.0, 151.25, Source.STREAM, at(1), value=Value(-756.25, -11.25)),
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

    assert rows == (
        Observation("DU2", AAPL, 30.0, 152.0, 151.25, Source.STREAM, at(5), value=Value(4537.5, -22.5)),
    )


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


SPY_CALL = Contract(700001, "SPY", "OPT", "20270115", 600.0, "C", multiplier="100")


def greeks(delta: float, implied_vol: float = 0.2) -> Greeks:
    return Greeks(implied_vol, delta, 0.01, 0.5, -0.05, 600.0)


def test_a_quote_or_greek_change_without_a_new_price_makes_a_row_a_size_alone_does_not() -> None:
    stream_feed = feed(position("DU1", 100.0))
    stream_feed.on_tick(Tick(151.0, at(1), Quote(150.9, 151.1, 151.0, 3, 4), greeks(0.5)))

    assert stream_feed.on_tick(Tick(151.0, at(2), Quote(150.9, 151.1, 151.0, 9, 9), greeks(0.5))) == ()
    assert stream_feed.on_tick(Tick(151.0, at(3), Quote(150.9, 151.1, 151.0, 9, 9), greeks(0.50001))) == ()
    bid_moved = stream_feed.on_tick(Tick(151.0, at(4), Quote(150.95, 151.1, 151.0, 9, 9), greeks(0.5)))
    delta_moved = stream_feed.on_tick(Tick(151.0, at(5), Quote(150.95, 151.1, 151.0, 9, 9), greeks(0.51)))

    assert [row.quote.bid for row in bid_moved] == [150.95]  # type: ignore[union-attr]
    assert [row.greeks.delta for row in delta_moved] == [0.51]  # type: ignore[union-attr]


def test_rows_are_coalesced_to_one_per_interval_with_the_latest_values() -> None:
    clock = FakeClock(start=0.0)
    stream_feed = StreamFeed(clock, SPY_CALL, "DU0", min_row_interval_s=0.25)
    stream_feed.set_positions((PositionChanged("DU1", SPY_CALL, 2.0, 1500.0, at(0)),))

    first = stream_feed.on_tick(Tick(10.0, at(0), greeks=greeks(0.5)))
    clock.advance(0.1)
    assert stream_feed.on_tick(Tick(10.5, at(0.1), greeks=greeks(0.52))) == ()
    assert stream_feed.on_tick(Tick(10.7, at(0.2), greeks=greeks(0.53))) == ()
    assert stream_feed.flush_due() == (), "the interval is not over"
    clock.advance(0.2)
    (late,) = stream_feed.flush_due()

    assert [row.market_price for row in first] == [10.0]
    assert (late.market_price, late.greeks.delta, late.event_ts) == (10.7, 0.53, at(0.2))  # type: ignore[union-attr]
    assert late.value == Value(2.0 * 10.7 * 100, 2.0 * 10.7 * 100 - 2.0 * 1500.0), "value per contract x 100"
    assert stream_feed.flush_due() == ()
    assert [r.market_price for r in stream_feed.take_rows()] == [10.0, 10.7]


def test_a_tick_after_the_interval_observes_the_coalesced_change_at_once() -> None:
    clock = FakeClock(start=0.0)
    stream_feed = StreamFeed(clock, AAPL, "DU0", min_row_interval_s=0.25)
    stream_feed.on_tick(Tick(151.0, at(0)))
    stream_feed.on_tick(Tick(152.0, at(0.1)))
    clock.advance(0.3)

    rows = stream_feed.on_tick(Tick(152.0, at(0.3)))

    assert [(r.market_price, r.event_ts) for r in rows] == [(152.0, at(0.3))]
    assert rows[0].value is None, "a contract nobody holds has no value"
