"""The README's first command: `python run.py --sim --duration 20` in a fresh directory, on a terminal."""

import re
from pathlib import Path

import pytest

from possync._run import SIM_ACTIVE, SIM_LAKE
from tests.app.cli import run_cli, run_on_terminal

STATUS_LINE = re.compile(
    r"\r\x1b\[Kconnected 127\.0\.0\.1:\d+ \| lines (\d+)/90 \| streams (\d+) \(([^)]*)\) \| queue (\d+) "
    r"\| rows ([\d,]+) \(\+[\d,]+ pending\) \| restarts 0"
)


@pytest.mark.timeout(120)
def test_the_demo_shows_its_live_status_and_leaves_a_lake_positions_can_read(tmp_path: Path) -> None:
    code, output = run_on_terminal(["--sim", "--duration", "20"], tmp_path, timeout_s=90)

    assert code == 0, output
    lines = STATUS_LINE.findall(output)
    assert len(lines) >= 10, f"the status line is refreshed about twice a second: {output[-2000:]}"
    held, streams, states, _queue, rows = lines[-1]
    assert int(held) == int(streams) == SIM_ACTIVE, lines[-1]
    delayed = re.fullmatch(rf"{SIM_ACTIVE} streaming; (\d+) delayed", states)  # the demo lacks some live data
    assert delayed is not None and 0 < int(delayed.group(1)) < SIM_ACTIVE, states
    assert int(rows.replace(",", "")) > 0
    assert "stopped cleanly" in output and "Traceback" not in output
    assert (tmp_path / SIM_LAKE / "position_updates").is_dir()

    listed = run_cli(["positions", "--sim", "--format", "csv"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) > SIM_ACTIVE
