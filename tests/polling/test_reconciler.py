"""Reconciliation against the simulator and a real lake: missing, wrong and stale positions converge."""

import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from possync.actors.lake._positions import LatestPositions
from possync.actors.lake._query import read_all
from possync.actors.names import CONNECTION, LAKE_WRITER, RECONCILER
from possync.actors.polling._reconciler import ReconcilerActor
from possync.messages.domain import Contract, Source
from possync.messages.lake import FlushNow
from possync.messages.poller import ReconcileNow, ReconcileReport
from possync.supervisors import ChildSpec
from tests.actor_rig import SimConnection, ask, lake_writer_spec, start_tree
from tests.helpers import wait_until
from tests.registry.test_store import observation, write_positions

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def reconciling(simulator, lake_root):
    tree = start_tree(
        lake_writer_spec(str(lake_root)),
        ChildSpec(CONNECTION, SimConnection, args=(simulator.port,), start_timeout_s=30),
        ChildSpec(RECONCILER, ReconcilerActor, args=(lake_root, 3600.0)),
    )
    yield tree
    tree.stop()


def committed_rows(tree, root, count: int):
    def enough():
        ask(tree, LAKE_WRITER, FlushNow())
        table = read_all(DeltaTable(str(root / "position_updates")))
        return table if table.num_rows >= count else None

    return wait_until(enough, timeout=20, message=f"{count} rows committed")


def test_the_lake_converges_to_the_gateway_and_then_stays_quiet(simulator, lake_root, reconciling):
    tree = reconciling
    held = simulator.positions()
    account = held[0].account
    wrong = Contract(
        held[0].conid, held[0].symbol, held[0].sec_type, held[0].expiry, held[0].strike, held[0].right
    )
    stale = Contract(424242, "GONE", "STK")
    write_positions(lake_root, observation(wrong, position=held[0].position + 7, account=account))
    write_positions(lake_root, observation(stale, position=3, account=account))
    write_positions(lake_root, observation(Contract(5, "OTHER", "STK"), position=3, account="NOT-COVERED"))

    report = ask(tree, RECONCILER, ReconcileNow())
    assert report == ReconcileReport(checked=len(held), drift=len(held) + 1)  # all but none known, plus GONE
    rows = committed_rows(tree, lake_root, 3 + len(held) + 1)
    latest = LatestPositions(lake_root).refresh()
    assert {k: o.position for k, o in latest.items() if k[0] == account} == {
        **{(account, p.conid): p.position for p in held},
        (account, 424242): 0.0,
    }
    assert latest[("NOT-COVERED", 5)].position == 3  # an account the gateway does not cover is left alone
    reconciled = rows.filter(pc.equal(rows["source"], Source.RECONCILE.value))
    assert reconciled.num_rows == len(held) + 1

    assert ask(tree, RECONCILER, ReconcileNow()) == ReconcileReport(checked=len(held), drift=0)

    simulator.set_position(held[1].conid, 0)
    wait_until(lambda: ask(tree, RECONCILER, ReconcileNow()).drift == 1, timeout=10, message="closed noticed")
    committed_rows(tree, lake_root, 3 + len(held) + 2)
    assert LatestPositions(lake_root).refresh()[(account, held[1].conid)].position == 0.0


def test_without_a_connection_nothing_is_compared_or_written(lake_root):
    tree = start_tree(
        lake_writer_spec(str(lake_root)), ChildSpec(RECONCILER, ReconcilerActor, args=(lake_root, 3600.0))
    )
    try:
        report = ask(tree, RECONCILER, ReconcileNow())
        assert (report.drift, report.skipped) == (0, "connection is not running")
    finally:
        tree.stop()
