"""What the lake says about positions: latest per key, incremental refresh, compaction, contract lookup."""

import pytest
from deltalake import DeltaTable

from possync.actors.lake._positions import LatestPositions, latest_contracts
from possync.messages.domain import Contract
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
