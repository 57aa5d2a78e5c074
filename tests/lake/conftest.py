"""Fixtures of the lake tests: settings under a tmp dir, standalone writers stopped after each test, and a
local S3 API (`s3`: moto_server in its own process, one per module, stopped by its pid)."""

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest

from possync.actors.lake._writer import LakeWriterActor
from possync.config.settings import LakeSettings
from tests.helpers import wait_until
from tests.s3 import S3Server


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto_server with the test bucket, behind a relay the test may cut (restored after each test)."""
    with S3Server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@pytest.fixture
def lake_root(tmp_path: Path) -> Path:
    """Where the lake of this test lives (not created: the writer creates it)."""
    return tmp_path / "lake"


@pytest.fixture
def start_writer(lake_root: Path) -> Iterator[Callable[..., pykka.ActorRef[Any]]]:
    """Start standalone writers (`start_writer(flush_interval_s=…, flush_rows=…, root=…, journal_dir=…)`,
    any other `LakeSettings` field as a keyword).

    Every writer still running at the end is stopped, and no thread of ours may be left behind.
    """
    threads_before = _ours()
    refs: list[pykka.ActorRef[Any]] = []

    def start(
        flush_interval_s: float = 0.05,
        flush_rows: int = 5000,
        root: Path | str | None = None,
        journal_dir: Path | None = None,
        **extra: Any,
    ) -> pykka.ActorRef[Any]:
        settings = LakeSettings(
            root=str(root or lake_root), flush_interval_s=flush_interval_s, flush_rows=flush_rows, **extra
        )
        ref = LakeWriterActor.start(None, settings, journal_dir)
        refs.append(ref)
        return ref

    yield start
    for ref in refs:
        if ref.is_alive():
            ref.stop(timeout=10)
    wait_until(lambda: _ours() <= threads_before, 10, message="writer threads ended")


def _ours() -> set[threading.Thread]:
    """The Python threads alive, without the dummies of native threads (polars, delta-rs) that ran Python."""
    return {t for t in threading.enumerate() if not t.name.startswith("Dummy-")}
