"""Trading hours as IB's contract details give them (#14 item 4): parsed with their zone, open or closed at
a time, since when closed, and in the gateway's clock."""

from datetime import UTC, datetime, timedelta

import pytest

from possync.actors.streaming._hours import parse_hours
from possync.messages.lifecycle import TradingHours

pytestmark = pytest.mark.timeout(10)
WEEK = "20261204:0400-20261204:2000;20261205:CLOSED;20261206:CLOSED;20261207:0930-20261207:1600"


def et(day: int, hour: int, minute: int = 0) -> datetime:
    """A December 2026 time in US/Eastern (UTC-5 in December) as UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC) + timedelta(hours=5)


def test_sessions_are_read_in_their_zone() -> None:
    hours = parse_hours(TradingHours("US/Eastern", WEEK))
    assert hours is not None
    assert hours.is_open(et(4, 4)) and hours.is_open(et(4, 19, 59))
    assert hours.is_open(et(4, 20)) is False and hours.is_open(et(4, 3, 59)) is False
    assert hours.is_open(et(5, 12)) is False  # a CLOSED day
    assert hours.is_open(et(7, 9, 30)) and hours.is_open(et(7, 16)) is False
    assert hours.is_open(et(9, 12)) is None  # beyond the days listed: unknown, silence stays checked


def test_since_when_closed_and_when_it_opens() -> None:
    hours = parse_hours(TradingHours("US/Eastern", WEEK))
    assert hours is not None
    assert hours.closed_since(et(6, 12)) == et(4, 20)
    assert hours.closed_since(et(4, 12)) is None
    assert hours.next_open(et(6, 12)) == et(7, 9, 30)


def test_the_gateways_clock_decides() -> None:
    ahead = parse_hours(TradingHours("US/Eastern", WEEK, clock_offset_s=3 * 86400))  # gateway 3 days ahead
    assert ahead is not None
    assert ahead.is_open(et(4, 12)) is True  # gateway time: Monday Dec 7, 12:00
    assert ahead.is_open(et(2, 12)) is False  # gateway time: Saturday Dec 5
    assert ahead.next_open(et(2, 12)) == et(4, 9, 30)  # Monday 09:30 gateway time: Friday 09:30 ours


@pytest.mark.parametrize("bad", [TradingHours("Mars/Olympus", WEEK), TradingHours("US/Eastern", "garbage")])
def test_hours_that_cannot_be_read_are_unknown(bad: TradingHours) -> None:
    assert parse_hours(bad) is None
