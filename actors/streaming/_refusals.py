"""What a stream does when the gateway refuses its market data, by the refusal's code.

- 101 (no line free): wait in the allocator's queue (`Refusal.LINE`);
- 200 (no security definition), 321 (invalid request): parked for good (`PERMANENT`);
- 10197 (a competing live session holds the data): give the line back and try again with backoff
  (`COMPETING`; the session usually ends within minutes);
- anything else, above all 354/10089/10168 (no live permission and no delayed fallback): parked, and
  tried again every `streams.refused_retry_s` and on every reconnect (`RETRY`: a user may buy the
  subscription, or enable delayed data).
"""

from enum import Enum

LINE_REFUSED = 101
PERMANENT_CODES = frozenset({200, 321})
COMPETING_SESSION = 10197
PERMISSION_CODES = frozenset({354, 10089, 10168})


class Refusal(Enum):
    """What a refusal calls for (see the module docstring)."""

    LINE = "line"
    PERMANENT = "permanent"
    COMPETING = "competing"
    RETRY = "retry"


def refusal(code: int) -> Refusal:
    """What the refusal `code` calls for."""
    if code == LINE_REFUSED:
        return Refusal.LINE
    if code in PERMANENT_CODES:
        return Refusal.PERMANENT
    if code == COMPETING_SESSION:
        return Refusal.COMPETING
    return Refusal.RETRY


def backoff_s(attempt: int, first_s: float, max_s: float) -> float:
    """The wait before try number `attempt` (1, 2, ...): `first_s`, doubling, at most `max_s`."""
    return min(max_s, first_s * 2 ** max(0, attempt - 1))
