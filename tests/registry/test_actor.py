"""RegistryActor with the real lake writer: cross-process activation, restart, own changes, bad rows."""

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from possync.actors.lake._tables import ACTIVE_STRATEGIES
from possync.actors.names import QUEUE, REGISTRY, STREAMS
from possync.actors.registry._actor import RegistryActor
from possync.actors.registry._store import (
    StrategyLog,
    activation,
    append_change,
    append_rows,
    latest_per_conid,
)
from possync.config.settings import RegistrySettings
from possync.messages.domain import Contract, utc_now
from possync.messages.registry import (
    Activate,
    ChangeAccepted,
    ChangeRefused,
    Deactivate,
    IsActive,
    RefreshRegistry,
)
from possync.messages.routing import (
    ActiveContracts,
    ContractActivated,
    ContractDeactivated,
    SendActiveContracts,
)
from possync.supervisors import ChildSpec
from tests.actor_rig import Recorder, ask, find, lake_writer_spec, start_tree
from tests.helpers import wait_until
from tests.registry.test_store import observation, write_positions

pytestmark = pytest.mark.timeout(90)

AAPL = Contract(265598, "AAPL", "STK")
MSFT = Contract(272093, "MSFT", "STK")

CLI = """
import sys
from pathlib import Path
from possync.actors.registry import activation, append_change
root = Path(sys.argv[1])
append_change(root, activation(root, int(sys.argv[2]), "momentum", 2, "cli"))
"""


@pytest.fixture
def running(lake_root: Path):
    """A tree: lake writer, STREAMS and QUEUE recorders, registry refreshing every 0.2 s."""
    streams: list = []
    queue: list = []
    tree = start_tree(
        lake_writer_spec(str(lake_root)),
        ChildSpec(STREAMS, Recorder, args=(streams,)),
        ChildSpec(QUEUE, Recorder, args=(queue,)),
        ChildSpec(REGISTRY, RegistryActor, args=(lake_root, RegistrySettings(refresh_interval_s=0.2))),
    )
    yield tree, streams, queue
    tree.stop()


def activated(streams: list, conid: int) -> list:
    return find(streams, lambda m: isinstance(m, ContractActivated) and m.active.contract.conid == conid)


def announced(streams: list, conid: int) -> list:
    return find(
        streams, lambda m: isinstance(m, ActiveContracts) and conid in {a.contract.conid for a in m.contracts}
    )


def test_an_activation_by_another_process_reaches_streams_within_seconds_and_survives_a_restart(
    lake_root, running
):
    tree, streams, _ = running
    write_positions(lake_root, observation(AAPL))
    subprocess.run(
        [sys.executable, "-c", CLI, str(lake_root), str(AAPL.conid)],
        check=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    (message,) = wait_until(lambda: activated(streams, AAPL.conid), timeout=5, message="activation told")
    assert message.active.contract.symbol == "AAPL"
    assert (message.active.strategy_id, message.active.priority) == ("momentum", 2)
    assert ask(tree, REGISTRY, IsActive(AAPL.conid)) is True

    tree.faults.crash_next(REGISTRY)
    tree.whereis(REGISTRY).tell(RefreshRegistry())
    wait_until(lambda: announced(streams, AAPL.conid), timeout=10, message="restored set announced")
    assert ask(tree, REGISTRY, IsActive(AAPL.conid)) is True
    assert len(activated(streams, AAPL.conid)) == 1


def test_own_changes_apply_at_once_persist_and_never_flip_back(lake_root, running):
    tree, streams, queue = running
    assert ask(tree, REGISTRY, Activate(AAPL.conid, "pairs", 1, contract=AAPL)) == ChangeAccepted()
    wait_until(lambda: activated(streams, AAPL.conid), timeout=2, message="told with the answer")
    wait_until(lambda: _logged(lake_root).get(AAPL.conid), timeout=10, message="committed")
    assert ask(tree, REGISTRY, Deactivate(AAPL.conid)) == ChangeAccepted()
    wait_until(lambda: find(streams, lambda m: m == ContractDeactivated(AAPL.conid)), timeout=2)
    wait_until(lambda: find(queue, lambda m: m == ContractDeactivated(AAPL.conid)), timeout=2)  # polled again
    wait_until(lambda: _logged(lake_root)[AAPL.conid].active is False, timeout=10, message="committed")
    assert ask(tree, REGISTRY, IsActive(AAPL.conid)) is False
    changes = [m for m in streams if isinstance(m, ContractActivated | ContractDeactivated)]
    assert len(changes) == 2


def test_activating_without_contract_fields_uses_the_lake_or_waits_for_the_gateway(lake_root, running):
    tree, _, _ = running
    write_positions(lake_root, observation(MSFT))
    assert ask(tree, REGISTRY, Activate(MSFT.conid, "s")) == ChangeAccepted()
    assert ask(tree, REGISTRY, Activate(12345, "s")) == ChangeAccepted()  # by conid alone
    assert ask(tree, REGISTRY, IsActive(12345)) is False  # until the gateway describes it (no gateway here)
    assert ask(tree, REGISTRY, Deactivate(12345)) == ChangeAccepted()  # a waiting activation can be undone
    assert isinstance(ask(tree, REGISTRY, Deactivate(12345)), ChangeRefused)


def test_unknown_conids_and_garbage_rows_are_reported_once_and_skipped(lake_root, running, warnings_logged):
    tree, streams, _ = running
    append_change(lake_root, activation(lake_root, 999, "s", 1, "other-tool", contract=Contract(999, "", "")))
    garbage = pa.Table.from_pylist(
        [{"conid": -1, "active": True, "strategy_id": "s", "priority": 1, "changed_ts": utc_now()}],
        schema=ACTIVE_STRATEGIES.schema,
    )
    append_rows(lake_root, garbage)  # another tool's row, appended with retry like any writer
    append_change(lake_root, activation(lake_root, AAPL.conid, "s", 1, "cli", contract=AAPL))
    wait_until(lambda: activated(streams, AAPL.conid), timeout=5, message="good row applied")
    for _ in range(3):  # several refreshes and a full re-announcement later, still reported once
        tree.whereis(REGISTRY).tell(SendActiveContracts())
        ask(tree, REGISTRY, IsActive(999))
    assert ask(tree, REGISTRY, IsActive(999)) is False
    assert sum("conid 999" in line and "no contract fields" in line for line in warnings_logged) == 1
    assert sum("conid must be a positive integer" in line for line in warnings_logged) == 1
    assert not find(streams, lambda m: isinstance(m, ContractActivated) and m.active.contract.conid == 999)


def _logged(root: Path) -> dict:
    log = StrategyLog(root)
    log.version()
    return latest_per_conid(log.read()[0])


def test_a_service_applies_only_the_rows_addressed_to_its_account_or_to_every_one(lake_root):
    streams: list = []
    settings = RegistrySettings(refresh_interval_s=0.2)
    tree = start_tree(
        lake_writer_spec(str(lake_root)),
        ChildSpec(STREAMS, Recorder, args=(streams,)),
        ChildSpec(QUEUE, Recorder, args=([],)),
        ChildSpec(REGISTRY, RegistryActor, args=(lake_root, settings), kwargs={"account": "DU2"}),
    )
    try:
        msft, ibm = Contract(272093, "MSFT", "STK"), Contract(8314, "IBM", "STK")
        for contract, account in ((AAPL, "DU1"), (msft, "DU2"), (ibm, "")):
            append_change(lake_root, activation(lake_root, contract.conid, "s", 1, "cli", contract, account))
        wait_until(lambda: activated(streams, ibm.conid) and activated(streams, msft.conid), 10, 0.05)
        assert ask(tree, REGISTRY, IsActive(AAPL.conid)) is False
    finally:
        tree.stop()
