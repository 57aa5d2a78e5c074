"""Fixtures of the storage tests: a lake root, and the warnings our actors log (loguru is off by default)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger


@pytest.fixture
def lake_root(tmp_path: Path) -> Path:
    """An empty lake root directory."""
    root = tmp_path / "lake"
    root.mkdir()
    return root


@pytest.fixture
def warnings_logged() -> Iterator[list[str]]:
    """The text of every WARNING-or-worse line our actors log during the test."""
    lines: list[str] = []
    logger.enable("possync.actors")
    sink = logger.add(lambda message: lines.append(message.record["message"]), level="WARNING")
    yield lines
    logger.remove(sink)
    logger.disable("possync.actors")
