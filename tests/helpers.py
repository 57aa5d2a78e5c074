"""Test helpers: wait for a condition with a deadline instead of sleeping and hoping; the IB client of a test.

The gateway-facing tests run once per IB client library (`IB_CLIENTS`): a parametrized autouse fixture
(`tests.conftest.each_ib_client`) sets the one in use, and every settings builder and client factory of the
suite reads it through `ib_client()` / `ib_module()`. `captured_log` is the one way a test reads the log.
"""

import importlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from loguru import logger

IB_CLIENTS = ("ib_insync", "ib_async")
"""The IB client libraries possync supports (`ib.client`)."""
_current = ["ib_insync"]

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


def ib_client() -> str:
    """The IB client library the current test uses (ib_insync unless the test runs for each)."""
    return _current[0]


def ib_module() -> ModuleType:
    """The module of `ib_client()` (`ib_insync` or `ib_async`)."""
    return importlib.import_module(_current[0])


@contextmanager
def using_ib_client(name: str) -> Iterator[str]:
    """Within the block, `ib_client()` is `name`."""
    before, _current[0] = _current[0], name
    try:
        yield name
    finally:
        _current[0] = before


@contextmanager
def captured_log(
    level: str = "WARNING", package: str = "possync", levels: bool = False
) -> Iterator[list[Any]]:
    """Every line `package` (enabled meanwhile) logs at `level` or worse while inside: its message, or
    (level name, message) with `levels`."""
    lines: list[Any] = []

    def keep(message: Any) -> None:
        record = message.record
        lines.append((record["level"].name, record["message"]) if levels else record["message"])

    logger.enable(package)
    sink = logger.add(keep, level=level, format="{message}")
    try:
        yield lines
    finally:
        logger.remove(sink)
        logger.disable(package)


NEW_YORK = ZoneInfo("America/New_York")
WEDNESDAY_NOON = datetime(2026, 12, 2, 12, 0, tzinfo=NEW_YORK)
"""A weekday noon in New York: every demo market is open by its hours (the simulator's clock can go there)."""


def trading_hours_clock() -> dict[str, float]:
    """Simulator settings whose clock reads a Wednesday noon in New York (every demo market open by its
    hours): for a test that silences streams, which the service would otherwise take for a closed market
    when the suite runs at night or on a weekend (the simulator lists real trading hours)."""
    return {"clock_offset_s": (WEDNESDAY_NOON - datetime.now(UTC)).total_seconds()}
