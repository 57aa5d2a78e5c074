"""The pure poll queue: priority order among due items, due times, backoff, parking, loans, no duplicates."""

import pytest

from possync.actors.polling._book import PollQueue
from possync.config.settings import QueueSettings
from possync.messages.domain import Contract, utc_now
from possync.messages.queue import ItemOutcome, Outcome
from possync.messages.routing import DEFAULT_PRIORITY, Enqueue, PositionChanged

pytestmark = pytest.mark.timeout(30)

POLICY = QueueSettings(
    refresh_s=60, max_attempts=3, backoff_min_s=5, backoff_max_s=12, park_s=1000, lease_s=30
)


def contract(conid: int) -> Contract:
    return Contract(conid, f"S{conid}", "STK")


def held(conid: int, position: float = 10.0, account: str = "DU1") -> PositionChanged:
    return PositionChanged(account, contract(conid), position, 100.0, utc_now())


def conids(batch) -> list[int]:
    return [item.contract.conid for item in batch]


@pytest.fixture
def queue() -> PollQueue:
    return PollQueue(POLICY)


def test_due_items_come_out_most_important_first_then_oldest_first(queue):
    for conid in (1, 2, 3):
        queue.learn_position(held(conid), now=0.0)
    queue.enqueue(Enqueue(contract(4), priority=1, reason="no line"), now=1.0)
    queue.enqueue(Enqueue(contract(5), priority=9, reason="no line"), now=0.0)
    assert conids(queue.take_due(now=2.0, limit=10)) == [4, 1, 2, 3, 5]


def test_items_not_yet_due_are_not_handed_out(queue):
    queue.learn_position(held(1), now=0.0)
    queue.record(ItemOutcome(1, Outcome.SUCCESS, accounts=("DU1",)), now=0.0)  # never lent: still rescheduled
    assert queue.take_due(now=59.0, limit=10) == []
    assert conids(queue.take_due(now=60.0, limit=10)) == [1]


def test_a_batch_is_limited_and_the_rest_follows_in_the_next(queue):
    for conid in range(10):
        queue.learn_position(held(conid), now=0.0)
    first = queue.take_due(now=1.0, limit=4)
    second = queue.take_due(now=1.0, limit=100)
    assert len(first) == 4 and len(second) == 6
    assert set(conids(first)).isdisjoint(conids(second))


def test_an_item_is_never_duplicated_however_often_it_is_reported(queue):
    for _ in range(3):
        queue.learn_position(held(7), now=0.0)
    queue.enqueue(Enqueue(contract(7), priority=2, reason="no line"), now=0.0)
    queue.learn_position(held(7, position=11.0), now=0.0)
    assert len(queue) == 1
    assert conids(queue.take_due(now=1.0, limit=10)) == [7]
    assert queue.take_due(now=1.0, limit=10) == []


def test_a_lent_item_comes_back_when_its_outcome_never_arrives(queue):
    queue.learn_position(held(1), now=0.0)
    assert conids(queue.take_due(now=0.0, limit=10)) == [1]
    assert queue.take_due(now=29.0, limit=10) == []
    assert conids(queue.take_due(now=30.0, limit=10)) == [1]


def test_a_changed_position_jumps_ahead_of_merely_due_items(queue):
    queue.enqueue(Enqueue(contract(1), priority=1, reason="no line"), now=0.0)
    queue.learn_position(held(2), now=0.0)
    queue.take_due(now=0.0, limit=10)
    queue.record(ItemOutcome(2, Outcome.SUCCESS, accounts=("DU1",)), now=0.0)
    queue.learn_position(held(2, position=12.0), now=5.0)  # changed: due at once, ahead of priority 1
    queue.record(ItemOutcome(1, Outcome.FAILED, "x"), now=0.0)  # due again at 5.0
    assert conids(queue.take_due(now=5.0, limit=10)) == [2, 1]


def test_a_change_while_lent_makes_the_item_due_again_right_after_its_outcome(queue):
    queue.learn_position(held(1), now=0.0)
    queue.take_due(now=0.0, limit=10)
    queue.learn_position(held(1, position=3.0), now=1.0)
    queue.record(ItemOutcome(1, Outcome.SUCCESS, accounts=("DU1",)), now=2.0)
    assert conids(queue.take_due(now=2.0, limit=10)) == [1]


def test_failures_back_off_exponentially_up_to_the_cap_then_park_with_the_reason(queue):
    queue.learn_position(held(1), now=0.0)
    now, audits = 0.0, []
    for expected_delay in (5.0, 10.0):  # backoff_min_s * 2**n
        (item,) = queue.take_due(now=now, limit=10)
        audits += queue.record(ItemOutcome(1, Outcome.FAILED, "error 200: no security definition"), now=now)
        assert queue.take_due(now=now + expected_delay - 0.1, limit=10) == []
        now += expected_delay
    (item,) = queue.take_due(now=now, limit=10)
    assert item.attempt == 3
    audits += queue.record(ItemOutcome(1, Outcome.FAILED, "error 200: no security definition"), now=now)
    assert [(a.outcome, a.attempt) for a in audits] == [
        (Outcome.FAILED, 1),
        (Outcome.FAILED, 2),
        (Outcome.PARKED, 3),
    ]
    status = queue.status(now)
    assert [(p.conid, p.attempts, p.reason) for p in status.parked] == [
        (1, 3, "error 200: no security definition")
    ]
    assert queue.take_due(now=now + POLICY.park_s - 1, limit=10) == []
    assert conids(queue.take_due(now=now + POLICY.park_s, limit=10)) == [1]


def test_backoff_is_capped(queue):
    policy = QueueSettings(max_attempts=10, backoff_min_s=5, backoff_max_s=12)
    queue = PollQueue(policy)
    queue.learn_position(held(1), now=0.0)
    now = 0.0
    for _ in range(4):
        queue.take_due(now=now, limit=1)
        queue.record(ItemOutcome(1, Outcome.FAILED, "timeout"), now=now)
        now += 12.0
    assert conids(queue.take_due(now=now, limit=1)) == [1]


def test_success_after_failures_clears_the_count_and_unparks(queue):
    queue.learn_position(held(1), now=0.0)
    now = 0.0
    for _ in range(POLICY.max_attempts):
        queue.take_due(now=now, limit=1)
        queue.record(ItemOutcome(1, Outcome.FAILED, "timeout"), now=now)
        now += POLICY.park_s
    assert queue.status(now).parked
    (item,) = queue.take_due(now=now, limit=1)
    queue.record(ItemOutcome(1, Outcome.SUCCESS, accounts=("DU1",)), now=now)
    assert queue.status(now).parked == ()
    (item,) = queue.take_due(now=now + POLICY.refresh_s, limit=1)
    assert item.attempt == 1


def test_deferred_never_parks_and_retries_after_the_minimum_backoff(queue):
    queue.learn_position(held(1), now=0.0)
    now = 0.0
    for _ in range(POLICY.max_attempts * 3):
        (item,) = queue.take_due(now=now, limit=1)
        (audit,) = queue.record(ItemOutcome(1, Outcome.DEFERRED, "gateway did not answer"), now=now)
        assert audit.outcome == Outcome.DEFERRED and item.attempt == 1
        now += POLICY.backoff_min_s
    assert queue.status(now).parked == ()


def test_a_closed_position_leaves_the_queue_but_a_requested_contract_stays(queue):
    queue.learn_position(held(1), now=0.0)
    queue.enqueue(Enqueue(contract(2), priority=1, reason="no line"), now=0.0)
    queue.learn_position(held(2), now=0.0)
    queue.take_due(now=0.0, limit=10)
    audit = queue.record(ItemOutcome(1, Outcome.CLOSED), now=1.0)
    queue.record(ItemOutcome(2, Outcome.CLOSED), now=1.0)
    assert [(a.conid, a.account, a.outcome) for a in audit] == [(1, "DU1", Outcome.CLOSED)]
    assert 1 not in queue and 2 in queue
    (item,) = queue.take_due(now=1.0 + POLICY.refresh_s, limit=10)
    assert item.accounts == ()


def test_audit_has_one_row_per_account_holding_the_contract(queue):
    queue.learn_position(held(1, account="DU1"), now=0.0)
    queue.learn_position(held(1, account="DU2"), now=0.0)
    (item,) = queue.take_due(now=0.0, limit=10)
    assert item.accounts == ("DU1", "DU2")
    audit = queue.record(ItemOutcome(1, Outcome.FAILED, "timeout"), now=0.0)
    assert [a.account for a in audit] == ["DU1", "DU2"]


def test_a_streaming_contract_is_kept_but_not_handed_out_until_deactivated(queue):
    queue.learn_position(held(1), now=0.0)
    queue.enqueue(Enqueue(contract(2), priority=1, reason="no line"), now=0.0)
    queue.dequeue(1)
    queue.dequeue(2)  # not a position: gone
    assert 2 not in queue and 1 in queue
    assert queue.take_due(now=1.0, limit=10) == []
    assert queue.status(1.0).size == 0
    queue.deactivate(1, now=2.0)
    (item,) = queue.take_due(now=2.0, limit=10)
    assert (item.contract.conid, item.priority) == (1, DEFAULT_PRIORITY)


def test_snapshot_and_restore_keep_every_item_and_its_failures(queue):
    for conid in range(5):
        queue.learn_position(held(conid), now=0.0)
    queue.enqueue(Enqueue(contract(9), priority=1, reason="no line"), now=0.0)
    queue.take_due(now=0.0, limit=2)
    queue.record(ItemOutcome(0, Outcome.FAILED, "timeout"), now=0.0)
    restored = PollQueue(POLICY)
    restored.restore(queue.snapshot(now=0.0), now=100.0)
    assert len(restored) == 6
    batch = restored.take_due(now=200.0, limit=100)
    assert sorted(conids(batch)) == [0, 1, 2, 3, 4, 9]
    assert conids(batch)[0] == 9
    assert next(i for i in batch if i.contract.conid == 0).attempt == 2


def test_stale_heap_entries_do_not_grow_without_bound(queue):
    queue.learn_position(held(1), now=0.0)
    for n in range(10_000):
        queue.learn_position(held(1, position=float(n)), now=0.0)
        queue.take_due(now=0.0, limit=0)
    assert len(queue._waiting) + len(queue._ready) < 100
