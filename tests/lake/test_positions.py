"""What the lake says about positions: latest per key, incremental refresh, compaction, contract lookup."""

import pytest
from deltalake import DeltaTable, write_deltalake

from possync.actors.lake._positions import LatestPositions, latest_contracts
from possync.actors.lake._tables import POSITION_UPDATES
from possync.messages.domain import Contract, Observation, Source, Value, utc_now
from possync.messages.lake import FlushNow, RowsAccepted, WriteRows
from tests.helpers import wait_until
from tests.registry.test_store import observation, write_positions

pytestmark = pytest.mark.timeout(60)

A = Contract(1, "A", "STK")
B = Contract(2, "B", "OPT", "20270115", 100.0, "C")


def test_no_table_is_an_empty_state(lake_root):
    assert LatestPositions(lake_root).refresh() == {}
    assert latest_contracts(lake_root, [1]) == {}


def test_the_newest_row_per_account_and_conid_wins_and_new_commits_are_folded_in(lake_root):
    write_positions(lake_root, observation(A, 5, age_s=10), observation(A, 6, age_s=5), observation(B, 1))
    write_positions(lake_root, observation(A, 9, account="DU2"))
    positions = LatestPositions(lake_root)
    assert {k: o.position for k, o in positions.refresh().items()} == {
        ("DU1", 1): 6,
        ("DU1", 2): 1,
        ("DU2", 1): 9,
    }
    write_positions(lake_root, observation(A, 0), observation(A, 4, age_s=60))  # the older one must not win
    assert positions.refresh()[("DU1", 1)].position == 0
    assert positions.refresh()[("DU1", 2)].contract == B


def test_files_rewritten_by_compaction_do_not_change_the_state(lake_root):
    for n in range(5):
        write_positions(lake_root, observation(A, n, age_s=100 - n))
    positions = LatestPositions(lake_root, margin_s=10)
    before = dict(positions.refresh())
    DeltaTable(str(lake_root / "position_updates")).optimize.compact()
    write_positions(lake_root, observation(B, 2))
    after = positions.refresh()
    assert after[("DU1", 1)] == before[("DU1", 1)]
    assert after[("DU1", 2)].position == 2


def test_contracts_are_looked_up_by_conid_from_the_newest_row(lake_root):
    write_positions(lake_root, observation(B, age_s=5), observation(A))
    assert latest_contracts(lake_root, [2, 3]) == {2: B}


def test_a_lake_written_before_the_value_columns_opens_and_reads_old_and_new_rows(lake_root, start_writer):
    old = POSITION_UPDATES.unpack(POSITION_UPDATES.pack([observation(A, 5)]))
    old = old.select(old.column_names[: old.column_names.index("event_ts") + 1])  # the schema of 2026-11
    write_deltalake(str(lake_root / POSITION_UPDATES.name), old, mode="append")
    valued = Observation("DU2", A, 7.0, 1.0, 2.0, Source.PNL, utc_now(), value=Value(14.0, 7.0, 0.0, 1.0))

    writer = start_writer()
    assert isinstance(writer.ask(WriteRows((valued,)), timeout=10), RowsAccepted)
    writer.ask(FlushNow(), timeout=10)

    wait_until(lambda: len(LatestPositions(lake_root).refresh()) == 2, 10, message="both rows readable")
    latest = LatestPositions(lake_root).refresh()
    assert latest[("DU1", 1)].position == 5 and latest[("DU1", 1)].value is None
    assert latest[("DU2", 1)].value == Value(14.0, 7.0, 0.0, 1.0)
    assert "market_value" in DeltaTable(str(lake_root / POSITION_UPDATES.name)).schema().to_arrow().names
