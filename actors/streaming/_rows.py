"""StreamRows: the feeds of one StreamSupervisor's lines, whose rows go to the lake writer together.

Every stream registers the feed of each line it is granted (`add`). On its write timer
(`streams.write_interval_s`) the StreamSupervisor takes the coalesced changes now due (`due`: they go to
the update handlers) and then every feed's rows (`take`), and hands them to the lake writer in one
`WriteRows`: one wake-up and one message per interval for all streams, not one per stream (at 100 streams
and 0.5 s that was 200 thread wake-ups and 200 messages a second taking turns with the network thread).

A feed whose line was given back is closed: it is taken from once more a whole interval after it was
first seen closed (a tick being observed while it closed may still add a row), then forgotten. A stream
that stops or crashes takes its feeds back (`remove`) and hands their last rows over itself, at once.

Thread-safety: streams add and remove feeds in their threads, the supervisor takes in its own; a feed's
rows are popped one by one from its deque, so each row is taken exactly once whoever takes it.
"""

import threading
from collections.abc import Iterable

from possync.actors.streaming._feed import StreamFeed
from possync.messages.domain import Observation


class StreamRows:
    """The registered feeds, and whether each was already closed at the last `take`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._feeds: dict[StreamFeed, bool] = {}

    def add(self, feed: StreamFeed) -> None:
        """A stream's new line: take its rows from now on."""
        with self._lock:
            self._feeds[feed] = False

    def holds(self, feed: StreamFeed) -> bool:
        """Whether `feed` is still taken from (a closed one is forgotten after its last take)."""
        with self._lock:
            return feed in self._feeds

    def remove(self, feeds: Iterable[StreamFeed]) -> list[Observation]:
        """A stream stops: forget its `feeds` and return the rows they still hold."""
        feeds = list(feeds)
        with self._lock:
            for feed in feeds:
                self._feeds.pop(feed, None)
        return [row for feed in feeds for row in feed.take_rows()]

    def due(self) -> tuple[Observation, ...]:
        """The observations of coalesced changes whose interval is over, in every open feed."""
        return tuple(row for feed in self._snapshot() for row in feed.flush_due())

    def take(self) -> list[Observation]:
        """Every feed's rows made since the last take; forgets the feeds closed since before it."""
        with self._lock:
            spent = [feed for feed, seen_closed in self._feeds.items() if seen_closed]
            for feed in spent:
                del self._feeds[feed]
            for feed in self._feeds:
                self._feeds[feed] = feed.closed
            feeds = [*self._feeds, *spent]
        return [row for feed in feeds for row in feed.take_rows()]

    def _snapshot(self) -> list[StreamFeed]:
        with self._lock:
            return list(self._feeds)
