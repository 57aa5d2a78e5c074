"""The heap trim (#14, the soak's memory): freed heap pages go back to the OS every `memory.trim_interval_s`,
in a thread of the service's that is gone after stop; 0 turns it off."""

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from possync import Service
from possync.actors.service import MemoryTrim
from possync.actors.service._memory import RELEASE
from tests.app.support import as_settings, free_port, scenario_settings
from tests.helpers import captured_log, wait_until

REPO = Path(__file__).resolve().parents[2]

FRAGMENTED_HEAP = """
import sys
sys.path.insert(0, {repo!r})
from possync.actors.service import MemoryTrim

def anon_mib():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024

blocks = [bytes(64 * 1024) for _ in range(3200)]  # 200 MiB of malloc'd heap (below the mmap threshold)
kept = blocks[::16]  # one block in 16 stays: the heap cannot shrink from its top
del blocks
before = anon_mib()
MemoryTrim(60.0).trim()
print(before, anon_mib(), len(kept))
"""


def _possync_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name == "possync-memory"}


@pytest.mark.skipif(RELEASE is None, reason="the C library has no malloc_trim (not glibc)")
@pytest.mark.timeout(60)
def test_a_trim_gives_freed_heap_pages_back_to_the_os() -> None:
    """In a process of its own (its RSS is the measure): 200 MiB freed but kept by malloc, fragmented so
    that malloc cannot return it by itself; one trim gives most of it back."""
    script = FRAGMENTED_HEAP.format(repo=str(REPO))
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=50
    )
    before, after, _ = (float(x) for x in out.stdout.split())
    assert before - after > 100, f"RssAnon {before:.0f} MiB before the trim, {after:.0f} after"


@pytest.mark.timeout(30)
def test_the_trim_runs_every_interval_and_stops() -> None:
    calls: list[int] = []
    trim = MemoryTrim(0.02, release=lambda: calls.append(1))
    trim.start()
    wait_until(lambda: len(calls) >= 3, 5, message="three trims")
    trim.stop()
    stopped_at = len(calls)
    assert not _possync_threads()
    assert len(calls) == stopped_at == trim.trims


@pytest.mark.parametrize(("interval_s", "release"), [(0.0, lambda: None), (1.0, None)])
def test_no_interval_or_no_malloc_trim_starts_no_thread(interval_s: float, release: object) -> None:
    trim = MemoryTrim(interval_s, release=release)  # type: ignore[arg-type]
    trim.start()
    assert not trim.enabled and not _possync_threads()
    trim.stop()


@pytest.mark.skipif(RELEASE is None, reason="the C library has no malloc_trim (not glibc)")
@pytest.mark.timeout(60)
def test_the_service_trims_while_it_runs_and_leaves_no_thread(tmp_path: Path) -> None:
    sections = scenario_settings(free_port(), tmp_path)  # no gateway: the service runs degraded
    sections["memory"] = {"trim_interval_s": 0.05}
    with captured_log("DEBUG") as lines, Service(as_settings(sections), http_port=0):
        wait_until(lambda: _possync_threads(), 10, message="the trim thread")
        wait_until(
            lambda: sum("free heap pages released" in line for line in lines) >= 2, 10, message="two trims"
        )
    assert not _possync_threads()


@pytest.mark.timeout(60)
def test_trim_interval_0_runs_no_trim(tmp_path: Path) -> None:
    sections = scenario_settings(free_port(), tmp_path)
    sections["memory"] = {"trim_interval_s": 0.0}
    with Service(as_settings(sections), http_port=0) as service:
        wait_until(lambda: service.status().lake.healthy, 10)
        assert not _possync_threads()
