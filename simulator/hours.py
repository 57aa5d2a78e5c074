"""Trading hours, the simulator's clock, and whether a contract's market is open (see README.md).

IB's contract details carry `timeZoneId`, `tradingHours` and `liquidHours`; at server version 176 the
hours are `;`-separated days of `YYYYMMDD:HHMM-YYYYMMDD:HHMM` (the closing date written out since TWS
970) or `YYYYMMDD:CLOSED`, in the exchange's zone, for about a week from today. US stocks trade
04:00-20:00 (liquid, i.e. regular hours, 09:30-16:00), US equity options 09:30-16:00, weekdays only.
Exchange holidays and early closes are not modelled.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec

from possync.simulator.instruments import DemoContract

US_EASTERN = "US/Eastern"
"""The zone id IB's contract details give US exchanges (an IANA alias of America/New_York)."""
DAYS_LISTED = 7
"""Days of hours listed in contract details, today first (real gateways list about a week)."""

Span = tuple[time, time]


class Schedule(msgspec.Struct, frozen=True):
    """The sessions of one kind of contract: its zone and daily trading and liquid hours, Monday to Friday."""

    zone_id: str
    trading: Span
    liquid: Span

    def is_open(self, at: datetime) -> bool:
        """Whether `at` (an aware time) falls within a trading session."""
        local = at.astimezone(ZoneInfo(self.zone_id))
        start, end = self.trading
        return local.weekday() < 5 and start <= local.time() < end

    def details(self, at: datetime) -> tuple[str, str, str]:
        """The contract details fields timeZoneId, tradingHours and liquidHours as of `at`."""
        today = at.astimezone(ZoneInfo(self.zone_id)).date()
        return self.zone_id, _days(self.trading, today), _days(self.liquid, today)


US_STOCK = Schedule(US_EASTERN, (time(4), time(20)), (time(9, 30), time(16)))
US_OPTION = Schedule(US_EASTERN, (time(9, 30), time(16)), (time(9, 30), time(16)))


def schedule_of(contract: DemoContract) -> Schedule:
    """The sessions of a demo contract (every one is a US stock or a US equity option)."""
    return US_OPTION if contract.sec_type == "OPT" else US_STOCK


def _days(span: Span, first: date) -> str:
    """`DAYS_LISTED` days of `span` in IB's format, weekends CLOSED."""
    return ";".join(_day(span, first + timedelta(days=n)) for n in range(DAYS_LISTED))


def _day(span: Span, day: date) -> str:
    """One day of IB's hours format: `20261202:0930-20261202:1600` or `20261205:CLOSED`."""
    if day.weekday() >= 5:
        return f"{day:%Y%m%d}:CLOSED"
    start, end = span
    return f"{day:%Y%m%d}:{start:%H%M}-{day:%Y%m%d}:{end:%H%M}"


class Clock:
    """The simulator's clock: the real time shifted by `offset_s` (tests move it to a night or a weekend)."""

    def __init__(self, offset_s: float = 0.0) -> None:
        self.offset_s = offset_s

    def now(self) -> datetime:
        """The simulated time (UTC)."""
        return datetime.now(UTC) + timedelta(seconds=self.offset_s)

    def epoch(self) -> int:
        """The simulated time in whole seconds since the epoch (currentTime)."""
        return int(self.now().timestamp())

    def set_offset(self, offset_s: float) -> None:
        """Run `offset_s` seconds ahead of the real time (negative: behind); ValueError outside +-10 years."""
        if not abs(offset_s) <= 10 * 366 * 86400:
            raise ValueError(f"offset_s={offset_s!r} is out of range: use seconds within +-10 years")
        self.offset_s = offset_s

    def set_time(self, at: datetime) -> None:
        """Make it `at` now (an aware time), the clock running on from there."""
        if at.tzinfo is None:
            raise ValueError(f"at={at.isoformat()!r} has no time zone: add one, e.g. 2026-12-05T15:00-05:00")
        self.set_offset((at - datetime.now(UTC)).total_seconds())


Mode = bool | None
"""A market's state as set: True always open, False always closed, None open by its trading hours."""


def mode_name(mode: Mode) -> str:
    """How a mode is shown: "open", "closed" or "hours"."""
    return "hours" if mode is None else ("open" if mode else "closed")


class MarketHours:
    """Whether each contract's market is open: forced open or closed (all, or per conid), or by its hours."""

    def __init__(self, follow_hours: bool) -> None:
        self.mode: Mode = None if follow_hours else True
        self.overrides: dict[int, Mode] = {}

    def set(self, mode: Mode, conids: list[int] | None = None) -> None:
        """Set the mode of `conids`, or of every market (dropping every per-conid mode) when None."""
        if conids is None:
            self.mode, self.overrides = mode, {}
        else:
            self.overrides.update(dict.fromkeys(conids, mode))

    def mode_of(self, conid: int) -> Mode:
        """The mode in force for one contract."""
        return self.overrides.get(conid, self.mode)

    def is_open(self, contract: DemoContract, at: datetime) -> bool:
        """Whether the contract's market is open at `at`."""
        mode = self.mode_of(contract.conid)
        return schedule_of(contract).is_open(at) if mode is None else mode
