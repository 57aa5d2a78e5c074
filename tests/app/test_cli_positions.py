"""`run.py positions` on a lake written before the value, quote and greek columns existed, and after."""

import json
from pathlib import Path

import pytest
from deltalake import write_deltalake

from possync.actors.lake import POSITION_UPDATES
from possync.messages.domain import Contract, DataType, Greeks, Observation, Quote, Source, Value, utc_now
from tests.app.cli import run_cli
from tests.app.support import free_port, scenario_settings, write_toml
from tests.conftest import one_ib_client

each_ib_client = pytest.fixture(autouse=True)(one_ib_client)
"""Not about the IB client: these tests run once, with the default client (see tests/conftest.py)."""

AAPL = Contract(265598, "AAPL", "STK")
CALL = Contract(700001, "SPY", "OPT", "20270115", 600.0, "C", multiplier="100")


def _append(root: Path, rows: list[Observation], old_schema: bool = False) -> None:
    table = POSITION_UPDATES.unpack(POSITION_UPDATES.pack(rows))
    if old_schema:  # the columns of 2026-11: up to event_ts
        table = table.select(table.column_names[: table.column_names.index("event_ts") + 1])
    path = str(root / POSITION_UPDATES.name)
    write_deltalake(path, table, mode="append", schema_mode=None if old_schema else "merge")


@pytest.mark.timeout(60)
def test_positions_reads_rows_written_before_and_after_the_value_columns(tmp_path: Path) -> None:
    config = write_toml(tmp_path / "possync.toml", scenario_settings(free_port(), tmp_path, free_port()))
    root = tmp_path / "lake"
    _append(root, [Observation("DU1", AAPL, 10.0, 150.0, 151.0, Source.POLL, utc_now())], old_schema=True)
    streamed = Observation(
        "DU1", CALL, 2.0, 1500.0, 10.0, Source.STREAM, utc_now(), DataType.LIVE,
        Value(2000.0, -1000.0), Quote(9.9, 10.1, 10.0, 5.0, 7.0), Greeks(0.2, 0.5, 0.01, 0.6, -0.05, 601.0),
    )  # fmt: skip
    _append(root, [streamed])

    narrow = run_cli(["positions", "--config", str(config), "--format", "json"], tmp_path)
    wide = run_cli(["positions", "--config", str(config), "--format", "json", "--wide"], tmp_path)
    table = run_cli(["positions", "--config", str(config)], tmp_path)

    assert (narrow.returncode, wide.returncode, table.returncode) == (0, 0, 0), narrow.stderr + wide.stderr
    old, new = sorted(json.loads(narrow.stdout), key=lambda row: row["conid"])
    assert (old["market_price"], old["market_value"], old["unrealized_pnl"]) == (151.0, None, None)
    assert (new["market_value"], new["unrealized_pnl"]) == (2000.0, -1000.0)
    assert "delta" not in new, "the quote and greeks only with --wide"
    wide_new = max(json.loads(wide.stdout), key=lambda row: row["conid"])
    assert (wide_new["bid"], wide_new["ask"], wide_new["delta"], wide_new["data_type"]) == (
        9.9,
        10.1,
        0.5,
        "live",
    )
    assert wide_new["daily_pnl"] is None and wide_new["implied_vol"] == 0.2
    header = table.stdout.splitlines()[0].split()
    assert header[header.index("market_price") + 1 :][:2] == ["market_value", "unrealized_pnl"]
    assert "2 positions" in table.stdout
