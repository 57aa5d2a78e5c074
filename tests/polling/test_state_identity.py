"""Whose state the queue's state file is (#14 item 2): a file of another lake or gateway is set aside, an
item on loan is due at once after a restart, and the default file lives next to its lake."""

from pathlib import Path

import pytest

from possync.actors.polling._book import PollQueue
from possync.actors.polling._identity import StateIdentity, accounts_mismatch, identity_of, mismatch
from possync.actors.polling._state_file import load_queue_state, save_queue_state, saved_identity
from possync.actors.tree import queue_settings
from possync.config import Settings
from possync.config.settings import LakeSettings, QueueSettings
from possync.messages.domain import Contract, utc_now
from possync.messages.routing import PositionChanged
from tests.helpers import captured_log
from tests.polling.test_state_file import item

pytestmark = pytest.mark.timeout(10)
HERE = StateIdentity("/lakes/a", "id-1", "127.0.0.1:4002", "")


def test_the_state_file_defaults_to_its_lake_and_a_set_one_is_honoured() -> None:
    lake = Settings(lake=LakeSettings(root="/x/lake"))
    assert Path(queue_settings(lake).state_file) == Path("/x/lake/_state/queue.msgpack")
    chosen = Settings(lake=LakeSettings(root="/x/lake"), queue=QueueSettings(state_file="/y/q.msgpack"))
    assert Path(queue_settings(chosen).state_file) == Path("/y/q.msgpack")


@pytest.mark.parametrize(
    ("other", "fragment"),
    [
        (StateIdentity("/lakes/b", "id-1", "127.0.0.1:4002", ""), "belongs to the lake /lakes/b"),
        (StateIdentity("/lakes/a", "id-0", "127.0.0.1:4002", ""), "position_updates table is new"),
        (StateIdentity("/lakes/a", "id-1", "127.0.0.1:4001", ""), "gateway 127.0.0.1:4001"),
        (StateIdentity("/lakes/a", "id-1", "127.0.0.1:4002", "DU9"), "account DU9"),
    ],
)
def test_a_file_of_another_lake_or_gateway_is_set_aside_with_one_warning(
    tmp_path: Path, other: StateIdentity, fragment: str
) -> None:
    path = tmp_path / "queue.msgpack"
    save_queue_state(path, [item()], other)
    with captured_log("WARNING") as warnings:
        assert load_queue_state(path, HERE) == []
    assert not path.exists()
    assert len(list(tmp_path.glob("queue.msgpack.*.mismatch"))) == 1
    assert len(warnings) == 1 and fragment in warnings[0], warnings


def test_a_file_of_this_lake_loads_and_an_old_file_without_identity_is_adopted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue.msgpack"
    save_queue_state(path, [item()], HERE)
    assert load_queue_state(path, HERE) == [item()]
    assert saved_identity(path) == HERE
    save_queue_state(path, [item()])  # as version 1 wrote it
    assert load_queue_state(path, HERE) == [item()]
    assert mismatch(StateIdentity("/lakes/a", "", "127.0.0.1:4002", ""), HERE) == ""  # no table then


def test_another_login_is_told_by_its_accounts() -> None:
    mine = StateIdentity("/l", "", "h:1", "", ("DU1", "DU2"))
    assert accounts_mismatch(mine, ("DU2",)) == ""
    assert "DU7" in accounts_mismatch(mine, ("DU7",))


def test_the_identity_of_a_lake_names_its_table(tmp_path: Path) -> None:
    import pyarrow as pa
    from deltalake import write_deltalake

    root = tmp_path / "lake"
    assert identity_of(str(root), "h", 1, "").table_id == ""
    write_deltalake(str(root / "position_updates"), pa.table({"x": [1]}))
    identity = identity_of(str(root), "h", 1, "DU1")
    assert identity.table_id and identity.lake == str(root.resolve()) and identity.gateway == "h:1"


def test_an_item_on_loan_is_due_at_once_after_a_restart() -> None:
    policy = QueueSettings(lease_s=3600.0)
    before = PollQueue(policy)
    aapl = Contract(265598, "AAPL", "STK")
    before.learn_position(PositionChanged("DU1", aapl, 1.0, 2.0, utc_now()), 0.0)
    assert [i.contract.conid for i in before.take_due(0.0, 10)] == [265598]  # on loan, then a kill -9
    after = PollQueue(policy)
    after.restore(before.snapshot(1.0), 1000.0)
    assert [i.contract.conid for i in after.take_due(1000.0, 10)] == [265598]  # no lease_s to wait out
