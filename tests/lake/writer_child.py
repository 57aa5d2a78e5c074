"""A supervised lake writer in a process of its own, for the SIGKILL test (run by test_exactly_once).

    python -m tests.lake.writer_child ROOT ACKS CRASHES FIRST_ID TARGET_ROWS CRASH_QUOTA [--finish]

Writes observations with ids from FIRST_ID on, `BATCH` per ask, until TARGET_ROWS of them were acked. After
each `RowsAccepted(durable=True)` it appends "first count" to ACKS with one os.write, which a SIGKILL of this
process cannot undo. Every `CRASH_EVERY` batches it crashes the writer through the tree's fault hook, until
CRASH_QUOTA crashes have happened; each one is recorded in CRASHES once the writer is back. An ask that fails
is not acked, and its ids are never sent again. With --finish it then waits until the lake holds everything
and stops the tree. The writer logs to stderr (the test shows it if this run fails).
"""

import argparse
import os
import sys
from typing import Any

import pykka
from loguru import logger

from possync.actors.lake._writer import LakeWriterActor
from possync.actors.names import LAKE_WRITER
from possync.config.settings import LakeSettings
from possync.messages.lake import FlushNow, RowsAccepted, WriteRows
from possync.supervisors.errors import InjectedFault
from possync.supervisors.spec import ChildSpec, SupervisorSpec
from possync.supervisors.tree import SupervisionTree
from tests.helpers import wait_until
from tests.lake.support import observations, status

BATCH = 500
CRASH_EVERY = 3


class CrashCounter:
    """Arms crashes of the writer and records each one once the writer is back under a new ref."""

    def __init__(self, tree: SupervisionTree, quota: int, record_fd: int) -> None:
        self.tree = tree
        self.left = quota
        self.fd = record_fd
        self.armed_on: pykka.ActorRef[Any] | None = None

    def writer(self) -> pykka.ActorRef[Any]:
        """The current writer; records an armed crash that has happened."""
        ref = wait_until(lambda: self.tree.whereis(LAKE_WRITER), 30, message="writer running")
        if self.armed_on is not None and ref is not self.armed_on:
            os.write(self.fd, b"crash\n")
            self.armed_on = None
            self.left -= 1
        return ref

    def arm(self, ref: pykka.ActorRef[Any]) -> None:
        """Make the writer's next message crash it (if the quota allows and no crash is pending)."""
        if self.left > 0 and self.armed_on is None:
            self.tree.faults.crash_next(LAKE_WRITER)
            self.armed_on = ref


def write_until_acked(crashes: CrashCounter, first_id: int, target: int, acks_fd: int) -> None:
    acked = 0
    for batch_number, first in enumerate(range(first_id, sys.maxsize, BATCH)):
        if acked >= target:
            return
        ref = crashes.writer()
        if batch_number % CRASH_EVERY == CRASH_EVERY - 1:
            crashes.arm(ref)
        try:
            reply = ref.ask(WriteRows(observations(first, BATCH)), timeout=30)
        except (InjectedFault, pykka.ActorDeadError):
            continue
        if reply == RowsAccepted(BATCH, durable=True):
            os.write(acks_fd, f"{first} {BATCH}\n".encode())
            acked += BATCH


def finish(crashes: CrashCounter) -> None:
    """Use up the crash quota, then wait until every pending row is committed."""
    while crashes.left > 0:
        crashes.arm(crashes.writer())
        try:
            crashes.writer().ask(FlushNow(), timeout=30)
        except (InjectedFault, pykka.ActorDeadError):
            continue
    wait_until(
        lambda: (s := status(crashes.writer())).pending_rows == 0 and s.healthy, 60, message="committed"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("root", "acks", "crashes"):
        parser.add_argument(name)
    for name in ("first_id", "target_rows", "crash_quota"):
        parser.add_argument(name, type=int)
    parser.add_argument("--finish", action="store_true")
    args = parser.parse_args()
    logger.remove()
    logger.add(sys.stderr, level="INFO")
    logger.enable("possync.actors")
    settings = LakeSettings(root=args.root, flush_interval_s=0.05, flush_rows=2000)
    writer = ChildSpec(LAKE_WRITER, LakeWriterActor, args=(settings,))
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    acks_fd, crashes_fd = os.open(args.acks, flags), os.open(args.crashes, flags)
    with SupervisionTree(SupervisorSpec("lake", children=(writer,), intensity=1000, period_s=1.0)) as tree:
        crashes = CrashCounter(tree, args.crash_quota, crashes_fd)
        write_until_acked(crashes, args.first_id, args.target_rows, acks_fd)
        if args.finish:
            finish(crashes)


if __name__ == "__main__":
    main()
