"""The reconciler's drift rules: what `find_drift` writes to make the lake agree with the gateway."""

from datetime import UTC, datetime

import pytest

from possync.actors.lake import PositionKey
from possync.actors.polling._drift import find_drift
from possync.messages.domain import Contract, Observation, Source
from possync.messages.poller import HeldPosition, PositionsReply

AAPL = Contract(265598, "AAPL", "STK")
MSFT = Contract(272093, "MSFT", "STK")
EARLIER = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
NOW = datetime(2026, 1, 5, 15, 30, tzinfo=UTC)


def held(account: str, contract: Contract, position: float, avg_cost: float) -> HeldPosition:
    return HeldPosition(account, contract, position, avg_cost, market_price=101.5)


def reply(*positions: HeldPosition, accounts: tuple[str, ...] = ("DU1", "DU2")) -> PositionsReply:
    return PositionsReply(True, accounts, positions, NOW)


def lake(*rows: Observation) -> dict[PositionKey, Observation]:
    return {(row.account, row.contract.conid): row for row in rows}


def known(account: str, contract: Contract, position: float, avg_cost: float | None = 150.0) -> Observation:
    return Observation(account, contract, position, avg_cost, 99.0, Source.STREAM, EARLIER)


def test_a_held_position_the_lake_lacks_is_written_as_the_gateway_says() -> None:
    drift = find_drift(reply(held("DU1", AAPL, 100.0, 150.0)), {}, NOW)

    assert drift == [Observation("DU1", AAPL, 100.0, 150.0, 101.5, Source.RECONCILE, NOW)]


def test_positions_the_lake_already_agrees_with_make_no_drift() -> None:
    gateway = reply(held("DU1", AAPL, 100.0, 150.0), held("DU2", MSFT, -5.0, 410.0))
    # the same values, off in the last bit after float arithmetic, still agree
    state = lake(known("DU1", AAPL, 100.0, (0.1 + 0.2) * 500), known("DU2", MSFT, -5.0, 410.0))

    assert find_drift(gateway, state, NOW) == []


def test_a_different_quantity_or_average_cost_is_rewritten_as_the_gateway_says() -> None:
    gateway = reply(held("DU1", AAPL, 120.0, 150.0), held("DU2", MSFT, -5.0, 411.0))
    state = lake(known("DU1", AAPL, 100.0, 150.0), known("DU2", MSFT, -5.0, 410.0))

    drift = find_drift(gateway, state, NOW)

    assert [(o.account, o.contract, o.position, o.avg_cost, o.source) for o in drift] == [
        ("DU1", AAPL, 120.0, 150.0, Source.RECONCILE),
        ("DU2", MSFT, -5.0, 411.0, Source.RECONCILE),
    ]


def test_a_lake_row_without_an_average_cost_is_completed_from_the_gateway() -> None:
    state = lake(known("DU1", AAPL, 100.0, avg_cost=None))

    drift = find_drift(reply(held("DU1", AAPL, 100.0, 150.0)), state, NOW)

    assert [(o.position, o.avg_cost) for o in drift] == [(100.0, 150.0)]


def test_an_open_lake_position_a_covered_account_no_longer_holds_is_closed() -> None:
    state = lake(known("DU1", AAPL, 100.0), known("DU2", AAPL, 7.0))

    drift = find_drift(reply(held("DU2", AAPL, 7.0, 150.0)), state, NOW)

    assert drift == [Observation("DU1", AAPL, 0.0, None, None, Source.RECONCILE, NOW)]


def test_a_position_of_an_account_the_reply_does_not_cover_is_left_alone() -> None:
    state = lake(known("DU9", AAPL, 100.0))

    assert find_drift(reply(accounts=("DU1",)), state, NOW) == []


def test_a_position_already_closed_in_the_lake_is_not_closed_again() -> None:
    state = lake(known("DU1", AAPL, 0.0))

    assert find_drift(reply(), state, NOW) == []


def test_an_incomplete_position_list_is_refused_rather_than_read_as_flat() -> None:
    incomplete = PositionsReply(False, ("DU1",), (), NOW)

    with pytest.raises(ValueError, match="complete"):
        find_drift(incomplete, lake(known("DU1", AAPL, 100.0)), NOW)
