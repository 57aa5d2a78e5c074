"""The registry store on real Delta tables: append, fold, garbage rows, contract lookup, two writers."""

import multiprocessing
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from possync.actors.lake._query import read_all
from possync.actors.lake._tables import ACTIVE_STRATEGIES, POSITION_UPDATES
from possync.actors.registry._store import (
    StrategyLog,
    activation,
    addressed_to,
    append_change,
    deactivation,
    latest_per_conid,
)
from possync.messages.domain import Contract, Observation, Source, utc_now

pytestmark = pytest.mark.timeout(60)

AAPL = Contract(265598, "AAPL", "STK")


def write_positions(root: Path, *observations: Observation) -> None:
    table = POSITION_UPDATES.unpack(POSITION_UPDATES.pack(list(observations)))
    write_deltalake(str(root / POSITION_UPDATES.name), table, mode="append")


def observation(contract: Contract, position: float = 10.0, account: str = "DU1", age_s: float = 0.0):
    return Observation(
        account, contract, position, 1.0, 2.0, Source.POLL, utc_now() - timedelta(seconds=age_s)
    )


def current(root: Path):
    log = StrategyLog(root)
    log.version()
    changes, garbage = log.read()
    return latest_per_conid(changes), garbage


def test_no_table_means_no_version_and_nothing_active(tmp_path):
    log = StrategyLog(tmp_path)
    assert log.version() is None
    assert log.read() == ([], [])


def test_activation_takes_the_contract_fields_from_the_lake_positions(tmp_path):
    write_positions(tmp_path, observation(AAPL, age_s=10), observation(Contract(265598, "AAPL2", "STK")))
    append_change(tmp_path, activation(tmp_path, 265598, "momentum", 2, "test"))
    latest, garbage = current(tmp_path)
    assert garbage == []
    assert latest[265598].contract.symbol == "AAPL2"
    change = latest[265598]
    assert (change.strategy_id, change.priority, change.active) == ("momentum", 2, True)
    table = read_all(DeltaTable(str(tmp_path / ACTIVE_STRATEGIES.name)))
    assert table.schema == ACTIVE_STRATEGIES.schema  # the documented schema, for any Delta reader


def test_a_conid_the_lake_never_saw_is_activated_by_its_conid_alone(tmp_path):
    change = activation(tmp_path, 42, "momentum", 1, "test")  # the service has the gateway describe it
    assert change.contract == Contract(42, "", "") and change.active


def test_the_latest_change_per_conid_wins_and_deactivation_keeps_the_fields(tmp_path):
    append_change(tmp_path, activation(tmp_path, AAPL.conid, "momentum", 2, "test", contract=AAPL))
    log = StrategyLog(tmp_path)
    first_version = log.version()
    append_change(tmp_path, deactivation(tmp_path, AAPL.conid, "test"))
    assert log.version() == first_version + 1
    latest, _ = current(tmp_path)
    assert latest[AAPL.conid].active is False
    assert latest[AAPL.conid].contract == AAPL
    assert latest[AAPL.conid].strategy_id == "momentum"


def test_garbage_rows_from_another_tool_are_described_and_skipped(tmp_path):
    append_change(tmp_path, activation(tmp_path, AAPL.conid, "momentum", 2, "test", contract=AAPL))
    now = utc_now()
    bad = [
        {"conid": None, "active": True, "strategy_id": "s", "priority": 1, "changed_ts": now},
        {"conid": -3, "active": True, "strategy_id": "s", "priority": 1, "changed_ts": now},
        {"conid": 7, "active": None, "strategy_id": "s", "priority": 1, "changed_ts": now},
        {"conid": 8, "active": True, "strategy_id": "", "priority": 1, "changed_ts": now},
        {"conid": 9, "active": True, "strategy_id": "s", "priority": 0, "changed_ts": now},
        {"conid": 10, "active": True, "strategy_id": "s", "priority": 1, "changed_ts": None},
    ]
    table = pa.Table.from_pylist(bad, schema=ACTIVE_STRATEGIES.schema)
    write_deltalake(str(tmp_path / ACTIVE_STRATEGIES.name), table, mode="append")
    latest, garbage = current(tmp_path)
    assert list(latest) == [AAPL.conid]
    assert len(garbage) == 6
    assert "conid must be a positive integer" in garbage[0]
    assert "active must be true or false" in garbage[2]
    assert "needs a strategy_id" in garbage[3]
    assert "priority >= 1" in garbage[4]
    assert "changed_ts must be a timestamp" in garbage[5]


def _append_many(root: str, start: int, count: int) -> None:
    for conid in range(start, start + count):
        append_change(
            Path(root), activation(Path(root), conid, "s", 1, "proc", contract=Contract(conid, "X", "STK"))
        )


def test_two_processes_appending_at_once_lose_nothing(tmp_path):
    append_change(tmp_path, activation(tmp_path, 1, "s", 1, "test", contract=Contract(1, "X", "STK")))
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_append_many, args=(str(tmp_path), 100 * (n + 1), 15)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(50)
        assert worker.exitcode == 0
    latest, garbage = current(tmp_path)
    assert garbage == []
    assert len(latest) == 31
    assert DeltaTable(str(tmp_path / ACTIVE_STRATEGIES.name)).version() == 30


def test_rows_name_an_account_and_a_table_without_the_column_reads_as_every_account(tmp_path):
    old = ACTIVE_STRATEGIES.schema.remove(ACTIVE_STRATEGIES.schema.get_field_index("account"))
    row = {"conid": AAPL.conid, "symbol": "AAPL", "sec_type": "STK", "strategy_id": "s", "priority": 1}
    row |= {"active": True, "changed_ts": utc_now(), "changed_by": "old-possync"}
    write_deltalake(str(tmp_path / ACTIVE_STRATEGIES.name), pa.Table.from_pylist([row], schema=old))
    (change,) = current(tmp_path)[0].values()
    assert change.account == "" and addressed_to(change, "DU2") and addressed_to(change, "")

    msft = Contract(272093, "MSFT", "STK")
    append_change(tmp_path, activation(tmp_path, msft.conid, "s", 1, "cli", msft, account="DU1"))
    latest = current(tmp_path)[0]
    assert latest[msft.conid].account == "DU1" and latest[AAPL.conid].account == ""
    assert not addressed_to(latest[msft.conid], "DU2") and addressed_to(latest[msft.conid], "DU1")
    assert deactivation(tmp_path, msft.conid, "cli", account="DU1").account == "DU1"
