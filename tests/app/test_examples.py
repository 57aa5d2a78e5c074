"""The examples run as documented and do what they say."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.app.support import REPO
from tests.conftest import one_ib_client

each_ib_client = pytest.fixture(autouse=True)(one_ib_client)
"""Not about the IB client: these tests run once, with the default client (see tests/conftest.py)."""


@pytest.mark.timeout(120)
def test_the_embedded_bot_streams_reports_and_stops(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "embedded_bot.py"), "--seconds", "30"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},  # as if installed with `pip install -e .`
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("prices streamed: {") and lines[0].count(":") == 6, lines
    assert "lines 5/90 | streams 5 (5 streaming)" in lines[1]
    assert lines[2].endswith("health: ok")
    assert lines[3] == "stopped; the bot's own actors and logging were never touched"
    assert result.stderr == "", "the library never configures logging: nothing is logged"
