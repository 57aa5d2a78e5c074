"""The pure line ledger: never more leases than the budget, under any sequence of operations."""

import random

import pytest

from possync.actors.streaming._ledger import Action, Demote, Holder, Promote, Reclaim, SlotLedger


def _holder(name: str, priority: int = 5, incarnation: int = 1) -> Holder:
    return Holder(name, incarnation, conid=hash(name) % 10_000, priority=priority)


@pytest.mark.timeout(10)
def test_grants_up_to_the_budget_then_queues() -> None:
    ledger = SlotLedger(budget=2)
    assert ledger.request(_holder("a"))[0] == 1
    assert ledger.request(_holder("b"))[0] == 2
    assert ledger.request(_holder("c")) == (None, [])
    assert (ledger.held, ledger.waiting) == (2, 1)


@pytest.mark.timeout(10)
def test_a_release_promotes_the_most_important_waiter_and_is_idempotent() -> None:
    ledger = SlotLedger(budget=1, preempt=False)
    ledger.request(_holder("a"))
    ledger.request(_holder("b", priority=5))
    ledger.request(_holder("c", priority=1))
    actions = ledger.release(1)
    assert [type(a) for a in actions] == [Promote]
    assert actions[0].holder.name == "b"  # preempt off: first come, first served
    assert ledger.release(1) == []
    assert ledger.held == 1


@pytest.mark.timeout(10)
def test_a_more_important_request_demotes_the_least_important_holder() -> None:
    ledger = SlotLedger(budget=2)
    ledger.request(_holder("a", priority=3))
    ledger.request(_holder("b", priority=7))
    lease, actions = ledger.request(_holder("c", priority=1))
    assert lease is None
    assert actions == [Demote(_holder("b", priority=7), 2)]
    assert ledger.held == 2, "the demoted line counts until it is given back"
    promoted = ledger.release(2)
    assert promoted == [Promote(_holder("c", priority=1), 3)]
    assert (ledger.held, ledger.waiting) == (2, 1), "the demoted holder waits for a line again"


@pytest.mark.timeout(10)
def test_equal_priority_never_demotes() -> None:
    ledger = SlotLedger(budget=1)
    ledger.request(_holder("a"))
    assert ledger.request(_holder("b")) == (None, [])


@pytest.mark.timeout(10)
def test_a_refusal_shrinks_the_budget_and_regrow_retries_the_waiter() -> None:
    ledger = SlotLedger(budget=3)
    for name in "abc":
        ledger.request(_holder(name))
    assert ledger.refuse(3) == []
    assert (ledger.effective_budget, ledger.held, ledger.waiting) == (2, 2, 1)
    assert ledger.refuse(3) == [], "a second refusal of the same lease is a no-op"
    assert ledger.release(3) == [], "the refused holder's own release comes after: a no-op"
    assert ledger.waiting == 1, "and it still waits for a line"
    assert ledger.regrow() == [Promote(_holder("c"), 4)]
    assert ledger.regrow() == []
    assert ledger.effective_budget == 3


@pytest.mark.timeout(10)
def test_a_newer_incarnation_replaces_the_older_and_reclaims_its_lease() -> None:
    ledger = SlotLedger(budget=1)
    ledger.request(_holder("a", incarnation=1))
    lease, actions = ledger.request(_holder("a", incarnation=2))
    assert actions == [Reclaim(_holder("a", incarnation=1), 1)]
    assert lease == 2
    assert ledger.request(_holder("a", incarnation=1)) == (None, []), "a stale request is ignored"
    assert ledger.request(_holder("a", incarnation=2)) == (2, []), "a repeated request is idempotent"


@pytest.mark.timeout(10)
def test_remove_reclaims_and_promotes() -> None:
    ledger = SlotLedger(budget=1)
    ledger.request(_holder("a"))
    ledger.request(_holder("b"))
    assert ledger.remove("a", incarnation=2) == []
    assert ledger.remove("a", incarnation=1) == [Reclaim(_holder("a"), 1), Promote(_holder("b"), 2)]


@pytest.mark.timeout(10)
def test_short_leases_come_only_from_free_lines_and_never_wait_or_get_demoted() -> None:
    ledger = SlotLedger(budget=3)
    poller = Holder("poller", 1, 0, priority=9)
    a, b = _holder("a", priority=5), _holder("b", priority=1)
    ledger.request(a)
    assert ledger.lend(poller, 5) == [2, 3], "only the lines free now"
    assert ledger.lend(poller, 1) == [], "none free: refused at once, never queued"
    assert ledger.request(b) == (None, [Demote(a, 1)]), "the stream is demoted, the short leases are not"
    assert ledger.lend(poller, 1) == [], "nothing lent while a stream waits"
    assert ledger.release(1) == [Promote(b, 4)]
    assert ledger.release(2) == [Promote(a, 5)], "a short lease given back goes to a waiter"
    assert ledger.refuse(3) == []
    assert (ledger.held, ledger.effective_budget, ledger.waiting) == (2, 2, 0), "refused (101): forgotten"
    assert {h.name for h in ledger.leases().values()} == {"a", "b"}


class _Model:
    """Drives a ledger with random operations and checks every invariant after each one."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ledger = SlotLedger(budget=self.rng.randint(1, 6), preempt=self.rng.random() < 0.7)
        self.names = [f"s{i}" for i in range(self.rng.randint(1, 12))]
        self.incarnation = dict.fromkeys(self.names, 1)
        self.priority = {name: self.rng.randint(1, 9) for name in self.names}
        self.lines: set[int] = set()  # leases a perfect holder would hold, from the ledger's answers only
        self.demoted: set[int] = set()
        self.seen_leases: list[int] = []

    def step(self) -> None:
        rng, ledger = self.rng, self.ledger
        name = rng.choice(self.names)
        operations = ["request", "request", "release", "release", "refuse", "regrow", "crash", "gone", "lend"]
        match rng.choice(operations):
            case "request":
                holder = Holder(name, self.incarnation[name], 0, self.priority[name])
                lease, actions = ledger.request(holder)
                self.apply(actions)
                if lease is not None:
                    self.lines.add(lease)
                    self.seen_leases.append(lease)
            case "release":
                lease = rng.choice([*self.seen_leases, 999]) if self.seen_leases else 999
                self.lines.discard(lease)
                self.apply(ledger.release(lease))
            case "refuse" if self.lines:
                lease = rng.choice(sorted(self.lines))
                self.lines.discard(lease)
                self.apply(ledger.refuse(lease))
            case "lend":
                lent = ledger.lend(Holder("poller", 1, 0, 9), rng.randint(1, 3))
                self.lines.update(lent)
                self.seen_leases += lent
            case "regrow":
                self.apply(ledger.regrow())
            case "crash":
                self.incarnation[name] += 1
            case "gone":
                self.apply(ledger.remove(name, self.incarnation[name]))

    def apply(self, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case Promote(lease_id=lease):
                    self.lines.add(lease)
                    self.seen_leases.append(lease)
                case Demote(lease_id=lease):
                    assert self.ledger.preempt, "preempt off never demotes"
                    self.demoted.add(lease)
                case Reclaim(lease_id=lease):
                    self.lines.discard(lease)

    def check(self) -> None:
        ledger = self.ledger
        assert ledger.held <= ledger.effective_budget <= ledger.budget
        assert len(self.lines) <= ledger.budget
        assert self.lines == set(ledger.leases()), "every grant and reclaim was reported as an action"
        if ledger.held < ledger.effective_budget:
            assert ledger.waiting == 0, "a free line while someone waits"
        names = [holder.name for holder in ledger.entries()]
        assert len(names) == len(set(names)), "one entry per holder"
        if ledger.preempt:
            self.check_priorities()

    def check_priorities(self) -> None:
        """No waiter is more important than a holder, except those whose demoted line is on its way."""
        entries = self.ledger._entries.values()  # white-box: the ledger exposes no per-entry state
        waiters = sorted((e.holder.priority, e.seq) for e in entries if e.lease_id is None)
        revoking = sum(e.revoking for e in entries)
        keeping = [
            e.holder.priority
            for e in entries
            if e.lease_id is not None and not e.revoking and not e.holder.short  # short: never demoted
        ]
        if waiters[revoking:] and keeping:
            assert waiters[revoking][0] >= max(keeping)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("seed", range(300))
def test_random_interleavings_never_exceed_the_budget(seed: int) -> None:
    model = _Model(seed)
    for _ in range(300):
        model.step()
        model.check()
