"""A poller sized to the portfolio: how many positions one cycle takes, and whether any size is enough.

A cycle reads the positions of its batch from what the IB client already holds (no gateway message per
position) and hands their rows to the lake writer in one message, so a batch of thousands is cheap; what
goes to the gateway (snapshots) is bounded by `poller.snapshot_lines` and paced by the session. The batch
is therefore derived from the queue: `size` positions, each due every `queue.refresh_s`, over cycles
`poller.interval_s` apart, need `size * interval_s / refresh_s` per cycle (taken with 25% headroom for
failures and changes); at least `poller.batch_size`, at most `poller.max_batch`. When even `max_batch` per
cycle cannot refresh every position within `refresh_s`, `shortfall` says so with the numbers (/health).
"""

import math

HEADROOM = 1.25
"""Beyond the bare rate: retries, expedited changes and slow cycles."""


def batch_limit(size: int, least: int, most: int, interval_s: float, refresh_s: float) -> int:
    """Items one cycle takes so that `size` positions are each refreshed within `refresh_s`."""
    cycles = max(refresh_s / interval_s, 1.0)
    return max(least, min(most, math.ceil(size * HEADROOM / cycles)))


def shortfall(size: int, most: int, interval_s: float, refresh_s: float) -> str:
    """Why the poller cannot refresh `size` positions every `refresh_s` at its fastest ("" when it can)."""
    needed, fastest = size / refresh_s, most / interval_s
    if needed <= fastest:
        return ""
    return (
        f"the poller cannot refresh {size:,} positions every {refresh_s:g}s (queue.refresh_s): that needs "
        f"{needed:,.0f} a second, and poller.max_batch {most:,} every poller.interval_s {interval_s:g}s "
        f"gives {fastest:,.0f}; raise poller.max_batch or queue.refresh_s"
    )
