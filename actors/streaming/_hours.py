"""A contract's trading hours, as the gateway describes them: is its market open now, and since when.

IB's contract details carry `timeZoneId` and `tradingHours`: `;`-separated days of
`YYYYMMDD:HHMM-YYYYMMDD:HHMM` (the closing date written out since TWS 970) or `YYYYMMDD:CLOSED`, about a
week from today, in the exchange's zone (`zoneinfo`). Outside the days listed, or for hours that cannot be
read, the market counts as open (`None`: unknown), so the silence checks stay on: a wrong guess costs a
resubscription, never a stream left silent for good. Times are compared in the gateway's clock (our
clock plus the offset measured when the contract was described). Pure: the caller gives the time.
"""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from possync.messages.lifecycle import TradingHours

Session = tuple[datetime, datetime]


class MarketHours:
    """The sessions of one contract (UTC) and the days they cover."""

    def __init__(self, sessions: list[Session], days: set[date], zone: ZoneInfo, offset_s: float) -> None:
        self._sessions = sorted(sessions)
        self._days = days
        self._zone = zone
        self._offset = timedelta(seconds=offset_s)

    def is_open(self, now: datetime) -> bool | None:
        """Whether the market is open at our time `now` (aware); None when the hours do not say."""
        at = now + self._offset
        if at.astimezone(self._zone).date() not in self._days:
            return None
        return any(start <= at < end for start, end in self._sessions)

    def closed_since(self, now: datetime) -> datetime | None:
        """When the market closed, in our time, if it is closed at our time `now` (None: open or unknown)."""
        if self.is_open(now) is not False:
            return None
        at = now + self._offset
        ends = [end for _, end in self._sessions if end <= at]
        first_day = min(self._days)
        since = (
            max(ends) if ends else datetime(first_day.year, first_day.month, first_day.day, tzinfo=self._zone)
        )
        return since - self._offset

    def next_open(self, now: datetime) -> datetime | None:
        """When the market opens next after our time `now`, in our time (None if the hours do not say)."""
        at = now + self._offset
        return next((start - self._offset for start, _ in self._sessions if start > at), None)


def parse_hours(hours: TradingHours) -> MarketHours | None:
    """The trading hours as sessions; None when the zone or the format cannot be read."""
    try:
        zone = ZoneInfo(hours.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    sessions: list[Session] = []
    days: set[date] = set()
    try:
        for entry in filter(None, hours.trading.split(";")):
            day, sessions_of_day = _entry(entry, zone)
            days.add(day)
            sessions += sessions_of_day
    except ValueError:
        return None
    return MarketHours(sessions, days, zone, hours.clock_offset_s) if days else None


def _entry(entry: str, zone: ZoneInfo) -> tuple[date, list[Session]]:
    """One day of IB's format: its date and its session (none when CLOSED)."""
    if entry.endswith(":CLOSED"):
        return datetime.strptime(entry[:8], "%Y%m%d").date(), []
    start_text, end_text = entry.split("-")
    start, end = _moment(start_text, zone), _moment(end_text, zone)
    return start.astimezone(zone).date(), [(start, end)]


def _moment(text: str, zone: ZoneInfo) -> datetime:
    """`YYYYMMDD:HHMM` in `zone`, as UTC."""
    return datetime.strptime(text, "%Y%m%d:%H%M").replace(tzinfo=zone).astimezone(UTC)
