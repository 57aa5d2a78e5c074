"""The lake under faults: a read-only lake for a while, and lake writer crashes at the two instants where a
crash could duplicate a row -- after the journal write but before the acknowledgement, and after a commit
but before the writer has heard of it. The journal and the Delta transaction ids must make both exactly
once: a journaled row is committed by the next incarnation (once), and a committed one is not again.

The fault hook crashes an actor *before* a message, so these two instants are reached by wrapping the
writer's own method for one call (`crash_once`): the real writer, journal and tables otherwise.
"""

import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from possync.actors.lake._tables import TABLES
from possync.actors.lake._writer import LakeWriterActor
from possync.actors.names import LAKE_WRITER
from possync.messages.lake import BatchCommitted, GetLakeStatus, LakeStatus
from possync.simulator import Simulator
from possync.supervisors import EventKind
from possync.supervisors.errors import InjectedFault
from tests.faults.invariants import lake_identities
from tests.faults.rig import Rig, during
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(90)


def crash_once(
    monkeypatch: pytest.MonkeyPatch, method: str, when: Callable[[tuple[Any, ...]], bool], after: bool
) -> list[Any]:
    """Make `LakeWriterActor.<method>` raise InjectedFault right `after` it ran (else instead of running),
    once, for the first call whose arguments satisfy `when`; returns the list that then holds them."""
    original = getattr(LakeWriterActor, method)
    hit: list[Any] = []

    def wrapped(self: LakeWriterActor, *args: Any) -> Any:
        if hit or not when(args):
            return original(self, *args)
        hit.append(args)
        if after:
            original(self, *args)
        raise InjectedFault(f"lake writer crashed {'after' if after else 'instead of'} {method}")

    monkeypatch.setattr(LakeWriterActor, method, wrapped)
    return hit


def test_a_crash_between_the_journal_write_and_the_ack_commits_the_rows_once(
    sim: Simulator, rig_factory: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = rig_factory(sim)
    mark = rig.mark()
    hit = crash_once(monkeypatch, "_accept", lambda args: True, after=True)  # journaled, not acknowledged

    rig.wait_event(EventKind.RESTARTING, LAKE_WRITER, after=mark)

    (rows,) = hit[0]
    check = rig.finish(strays_allowed=True)
    assert check.strays, "the rows journaled by the crashed writer are in the lake (once: no duplicate)"
    assert len(check.strays) <= len(rows)


def test_a_crash_after_a_commit_before_the_writer_hears_of_it_does_not_commit_it_again(
    sim: Simulator, rig_factory: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = rig_factory(sim)
    mark = rig.mark()
    committed = lambda args: isinstance(args[0], BatchCommitted) and args[0].rows > 0  # noqa: E731
    hit = crash_once(monkeypatch, "_on_committed", committed, after=False)

    rig.wait_event(EventKind.RESTARTING, LAKE_WRITER, after=mark)

    assert hit, "a commit with rows was made and the writer crashed before releasing its journal"
    rig.finish()  # the replayed journal held rows already in the table: committed once, not twice


@contextmanager
def read_only(paths: list[Path]) -> Iterator[None]:
    """Make `paths` immutable (chattr +i: as root, permission bits would not stop the writer)."""
    done: list[Path] = []
    try:
        for path in paths:
            subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)
            done.append(path)
        yield
    finally:
        for path in reversed(done):
            subprocess.run(["chattr", "-i", str(path)], check=True, capture_output=True)


def lake_writer_status(rig: Rig) -> LakeStatus | None:
    ref = rig.service.tree.whereis(LAKE_WRITER)
    return None if ref is None else ref.ask(GetLakeStatus(), timeout=5)


@pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr to make a directory read-only")
def test_a_read_only_lake_for_a_while_keeps_everything_and_catches_up_once(
    sim: Simulator, rig_factory: Callable[..., Rig]
) -> None:
    rig = rig_factory(sim)
    tables = [rig.root / table.name for table in TABLES]
    before = sum(lake_identities(rig.root).values())

    with read_only([*tables, *(table / "_delta_log" for table in tables)]):
        wait_until(lambda: (s := lake_writer_status(rig)) and not s.healthy, 10, message="unhealthy")
        frozen = sum(lake_identities(rig.root).values())
        during(2.0, lambda: rig.service.running and sum(lake_identities(rig.root).values()) == frozen)
        assert frozen >= before
        assert lake_writer_status(rig).pending_rows > 0  # type: ignore[union-attr]

    wait_until(lambda: (s := lake_writer_status(rig)) and s.healthy and s.pending_rows == 0, 30)
    rig.finish()
