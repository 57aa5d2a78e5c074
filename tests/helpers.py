"""Test helpers: wait for a condition with a deadline instead of sleeping and hoping."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.01, message: str = ""
) -> T:
    """Poll `condition` until it returns something truthy and return that; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"condition not met within {timeout}s: {message or condition}")
        time.sleep(interval)


def holds_throughout(condition: Callable[[], object], seconds: float, message: str = "") -> None:
    """Assert `condition` stays truthy for `seconds` (that something does NOT happen needs a window)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert condition(), message or f"{condition} stopped holding"
        time.sleep(0.02)
