"""A daemon thread that calls `tick()` every `interval_s` until stopped: the service's helpers beside the
actor tree (the status page's history, the heap trim) run on one."""

import threading


class Periodic:
    """Calls `self.tick()` every `interval_s` in a daemon thread named `name`, from `start()` to `stop()`."""

    def __init__(self, interval_s: float, name: str) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start ticking."""
        self._thread.start()

    def stop(self) -> None:
        """Stop and join the thread (at most one tick away); idempotent."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def tick(self) -> None:
        """One period's work (subclasses)."""
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.tick()
