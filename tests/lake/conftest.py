"""Fixtures of the lake tests: settings under a tmp dir, and standalone writers stopped after each test."""

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest

from possync.actors.lake._writer import LakeWriterActor
from possync.config.settings import LakeSettings
from tests.helpers import wait_until


@pytest.fixture
def lake_root(tmp_path: Path) -> Path:
    """Where the lake of this test lives (not created: the writer creates it)."""
    return tmp_path / "lake"


@pytest.fixture
def start_writer(lake_root: Path) -> Iterator[Callable[..., pykka.ActorRef[Any]]]:
    """Start standalone writers (`start_writer(flush_interval_s=…, flush_rows=…, root=…, journal_dir=…)`).

    Every writer still running at the end is stopped, and no thread of ours may be left behind.
    """
    threads_before = set(threading.enumerate())
    refs: list[pykka.ActorRef[Any]] = []

    def start(
        flush_interval_s: float = 0.05,
        flush_rows: int = 5000,
        root: Path | None = None,
        journal_dir: Path | None = None,
    ) -> pykka.ActorRef[Any]:
        settings = LakeSettings(
            root=str(root or lake_root), flush_interval_s=flush_interval_s, flush_rows=flush_rows
        )
        ref = LakeWriterActor.start(None, settings, journal_dir)
        refs.append(ref)
        return ref

    yield start
    for ref in refs:
        if ref.is_alive():
            ref.stop(timeout=10)
    wait_until(lambda: set(threading.enumerate()) <= threads_before, 10, message="writer threads ended")
