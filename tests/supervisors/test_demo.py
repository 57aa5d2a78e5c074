"""`python -m supervisors.demo` (the README's first quick-start command) runs and exits 0."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(60)
def test_the_demo_crashes_a_child_recovers_and_stops_cleanly() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "possync.supervisors.demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "tree stopped: recovered"
    assert any(line.startswith("exited      demo/connection#1 InjectedFault") for line in lines)
    assert any(line.startswith("backoff     demo/connection#1 after") for line in lines)
