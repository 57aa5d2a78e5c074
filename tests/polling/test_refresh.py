"""One batch refresh as pure rules: observed, closed (0), uncovered accounts, incomplete replies, not held."""

import pytest

from possync.actors.polling._refresh import NOTHING_TO_OBSERVE, refresh_batch, wants_snapshot
from possync.messages.domain import Contract, Source, utc_now
from possync.messages.poller import HeldPosition, PositionsReply
from possync.messages.queue import Outcome, PollItem
from possync.messages.snapshots import Snapshot

pytestmark = pytest.mark.timeout(10)

A, B, C = Contract(1, "A", "STK"), Contract(2, "B", "STK"), Contract(3, "C", "STK")
NOW = utc_now()


def reply(*held: HeldPosition, complete: bool = True, accounts=("DU1", "DU2")) -> PositionsReply:
    return PositionsReply(complete, accounts, held, NOW)


def item(contract: Contract, *accounts: str) -> PollItem:
    return PollItem(contract, 5, 1, accounts)


def test_held_positions_are_observed_and_vanished_ones_closed_at_zero():
    items = [item(A, "DU1", "DU2"), item(B, "DU1"), item(C, "DU9")]
    observations, outcomes = refresh_batch(items, reply(HeldPosition("DU1", A, 10, 2.5, 3.0)), NOW)
    assert [(o.account, o.contract.conid, o.position, o.market_price, o.source) for o in observations] == [
        ("DU1", 1, 10, 3.0, Source.POLL),
        ("DU2", 1, 0.0, None, Source.POLL),
        ("DU1", 2, 0.0, None, Source.POLL),
    ]
    assert [(o.conid, o.outcome, o.accounts) for o in outcomes] == [
        (1, Outcome.SUCCESS, ("DU1",)),
        (2, Outcome.CLOSED, ()),
        (3, Outcome.SUCCESS, ("DU9",)),  # DU9 is not covered by the reply: nothing is concluded
    ]


def test_an_incomplete_reply_proves_nothing_and_writes_nothing():
    observations, outcomes = refresh_batch([item(A, "DU1")], reply(complete=False), NOW)
    assert observations == []
    assert [o.outcome for o in outcomes] == [Outcome.DEFERRED]
    assert "positionEnd" in outcomes[0].error


def test_a_contract_nobody_holds_or_held_is_a_failure_with_its_reason():
    observations, outcomes = refresh_batch([item(A)], reply(), NOW)
    assert observations == []
    assert [(o.outcome, o.error) for o in outcomes] == [(Outcome.FAILED, NOTHING_TO_OBSERVE)]


def test_only_contracts_without_a_price_want_a_snapshot_in_batch_order():
    held = reply(HeldPosition("DU1", A, 10, 2.5, 3.0), HeldPosition("DU1", B, 5, 1.0, None))
    items = [item(C), item(B, "DU1"), item(A, "DU1"), item(Contract(4, "D", "STK"), "DU2")]
    assert [i.contract.conid for i in wants_snapshot(items, held)] == [3, 2]  # 4: held before, closed now
    assert wants_snapshot(items, reply(complete=False)) == []


def test_snapshot_prices_are_written_with_their_source_and_refusals_fail_with_the_reason():
    held = reply(HeldPosition("DU1", B, 5, 1.0, None))
    snapshots = {
        1: Snapshot(1, 7.5),
        2: Snapshot(2, 8.5),
        3: Snapshot(3, None, 200, "No security definition"),
    }
    observations, outcomes = refresh_batch([item(A), item(B, "DU1"), item(C)], held, NOW, snapshots, "DU0")
    assert [(o.account, o.contract.conid, o.position, o.market_price, o.source) for o in observations] == [
        ("DU0", 1, 0.0, 7.5, Source.SNAPSHOT),
        ("DU1", 2, 5, 8.5, Source.SNAPSHOT),
    ]
    assert [(o.conid, o.outcome, o.error) for o in outcomes] == [
        (1, Outcome.SUCCESS, ""),
        (2, Outcome.SUCCESS, ""),
        (3, Outcome.FAILED, "snapshot refused (200: No security definition)"),
    ]


def test_a_contract_with_nothing_to_observe_and_no_line_lent_is_deferred_with_why():
    observations, outcomes = refresh_batch([item(A)], reply(), NOW, no_line="3 streams wait for a line")
    assert observations == []
    assert [(o.outcome, o.error) for o in outcomes] == [
        (Outcome.DEFERRED, "no snapshot line this cycle: 3 streams wait for a line")
    ]
