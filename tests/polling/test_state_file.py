"""The queue's state file on real files: round trip, atomic replace, and unreadable files moved aside."""

import threading
from pathlib import Path

import msgspec

from possync.actors.polling._book import ItemState
from possync.actors.polling._state_file import load_queue_state, save_queue_state
from possync.messages.domain import Contract

AAPL = Contract(265598, "AAPL", "STK")
ES = Contract(495512563, "ES", "FUT", expiry="20261218", multiplier="50", exchange="CME")


def item(contract: Contract = AAPL, attempts: int = 0, parked: bool = False) -> ItemState:
    """One queue item holding the contract in two accounts."""
    return ItemState(
        contract=contract,
        priority=10,
        holdings={"DU1": (100.0, 150.25), "DU2": (-3.0, 4200.0)},
        requested=False,
        streaming=False,
        attempts=attempts,
        reason="timeout" if attempts else "",
        parked=parked,
        delay_s=12.5,
    )


def test_saved_items_load_back_exactly_as_they_were(tmp_path: Path) -> None:
    path = tmp_path / "queue.msgpack"
    items = [item(), item(ES, attempts=5, parked=True)]

    save_queue_state(path, items)

    assert load_queue_state(path) == items


def test_a_queue_without_a_state_file_starts_empty(tmp_path: Path) -> None:
    assert load_queue_state(tmp_path / "queue.msgpack") == []


def test_saving_creates_the_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "state" / "nested" / "queue.msgpack"

    save_queue_state(path, [item()])

    assert load_queue_state(path) == [item()]


def test_a_save_replaces_the_previous_state_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "queue.msgpack"
    save_queue_state(path, [item(), item(ES)])

    save_queue_state(path, [item(ES, attempts=1)])

    assert load_queue_state(path) == [item(ES, attempts=1)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["queue.msgpack"]


def test_an_empty_queue_is_saved_and_loads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "queue.msgpack"
    save_queue_state(path, [item()])

    save_queue_state(path, [])

    assert path.exists()
    assert load_queue_state(path) == []


def test_a_garbled_file_is_moved_aside_and_the_queue_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "queue.msgpack"
    path.write_bytes(b"\xc1 this is not msgpack")

    assert load_queue_state(path) == []

    assert not path.exists()
    assert (tmp_path / "queue.msgpack.corrupt").read_bytes() == b"\xc1 this is not msgpack"


def test_a_truncated_file_is_moved_aside_and_a_later_save_works(tmp_path: Path) -> None:
    path = tmp_path / "queue.msgpack"
    save_queue_state(path, [item(), item(ES)])
    path.write_bytes(path.read_bytes()[:-7])  # torn, as a non-atomic write cut short would leave it

    assert load_queue_state(path) == []
    assert (tmp_path / "queue.msgpack.corrupt").exists()

    save_queue_state(path, [item()])
    assert load_queue_state(path) == [item()]


def test_a_file_of_another_format_version_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "queue.msgpack"
    path.write_bytes(msgspec.msgpack.encode({"version": 2, "items": []}))

    assert load_queue_state(path) == []

    assert not path.exists()
    assert (tmp_path / "queue.msgpack.corrupt").exists()


def test_a_leftover_temporary_file_of_a_killed_save_does_not_affect_loading(tmp_path: Path) -> None:
    path = tmp_path / "queue.msgpack"
    save_queue_state(path, [item()])
    (tmp_path / "queue.msgpack.tmp").write_bytes(b"\x92\x01")  # a save killed halfway

    assert load_queue_state(path) == [item()]

    save_queue_state(path, [item(ES)])
    assert load_queue_state(path) == [item(ES)]


def test_a_reader_during_repeated_saves_sees_one_whole_state_or_the_other(tmp_path: Path) -> None:
    path = tmp_path / "queue.msgpack"
    small = [item()]
    large = [item(Contract(conid, f"S{conid}", "STK")) for conid in range(1, 400)]
    save_queue_state(path, small)
    done = threading.Event()

    def save_alternately() -> None:
        for n in range(60):
            save_queue_state(path, large if n % 2 == 0 else small)
        done.set()

    saver = threading.Thread(target=save_alternately)
    saver.start()
    loads = 0
    while saver.is_alive() or loads < 50:
        assert load_queue_state(path) in (small, large)
        loads += 1

    assert done.is_set()  # every save succeeded
    assert not (tmp_path / "queue.msgpack.corrupt").exists()
