"""Exactly once through 20 writer crashes and 5 SIGKILLs of the whole process, at random points.

A child process (tests/lake/writer_child.py) runs the writer in a supervision tree and records every id range
it had acked. The test kills it with SIGKILL five times, each time once a random number of rows were acked
plus a random fraction of a batch, restarts it on the same lake, and lets a last run finish. Meanwhile the
children crash the writer 20 times through the fault hook. Then every acked id must be in `position_updates`
exactly once, and no id more than once.
"""

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.lake.support import ids_in_lake

ROOT_DIR = Path(__file__).resolve().parents[2]
TARGET = 100_000
KILLS = 5
CRASHES = 20
ID_SPACE = 10_000_000
"""Each run writes ids from run * ID_SPACE on, so a restarted run never reuses an id an earlier run sent."""


def acked_ranges(acks: Path) -> list[tuple[int, int]]:
    if not acks.exists():
        return []
    return [(int(a), int(b)) for a, b in (line.split() for line in acks.read_text().splitlines())]


def acked_rows(acks: Path) -> int:
    return sum(count for _first, count in acked_ranges(acks))


def count_lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.timeout(240)
def test_every_acked_observation_is_in_the_lake_exactly_once(tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    print(f"seed={seed}")
    root, acks, crashes, log = (
        tmp_path / "lake",
        tmp_path / "acks",
        tmp_path / "crashes",
        tmp_path / "child.log",
    )

    def child(run: int, target: int, quota: int, *extra: str) -> subprocess.Popen:
        args = [str(root), str(acks), str(crashes), str(run * ID_SPACE), str(target), str(quota), *extra]
        with log.open("a") as stderr:
            return subprocess.Popen(
                [sys.executable, "-m", "tests.lake.writer_child", *args],
                cwd=ROOT_DIR,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    for run in range(KILLS):
        before = acked_rows(acks)
        kill_after = rng.randint(1_000, 10_000)
        process = child(run, TARGET, quota=3)
        try:
            wait_until(lambda b=before, k=kill_after: acked_rows(acks) - b >= k, 60, 0.002, "progress")
            time.sleep(rng.uniform(0, 0.02))  # a random point inside a batch: journal, commit, compaction
        finally:
            process.kill()
            process.wait(10)
        assert process.returncode == -9, log.read_text()

    last = child(KILLS, TARGET - acked_rows(acks), CRASHES - count_lines(crashes), "--finish")
    assert last.wait(180) == 0, log.read_text()

    acked = [oid for first, count in acked_ranges(acks) for oid in range(first, first + count)]
    in_lake = ids_in_lake(root)
    assert len(acked) >= TARGET
    assert count_lines(crashes) >= CRASHES
    assert [oid for oid in acked if in_lake[oid] != 1] == []
    assert [oid for oid, times in in_lake.items() if times > 1] == []
