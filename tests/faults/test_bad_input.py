"""Bad input: malformed config values, an unknown contract activated, a garbage registry row written by
another tool, and a gateway sending malformed messages. Each is reported clearly; none stops the service or
breaks an invariant."""

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from possync import Service
from possync.actors.lake._tables import ACTIVE_STRATEGIES
from possync.actors.names import stream_name
from possync.actors.registry._store import append_rows
from possync.config import ConfigError
from possync.messages.domain import Contract
from possync.simulator import Simulator
from tests.app.support import write_toml
from tests.faults.proxy import GatewayProxy
from tests.faults.rig import Rig, during, fault_settings
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(90)

REQ_MKT_DATA = 1
UNKNOWN_CONID = 987_654_321


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("slots", "budget", -3, "slots.budget"),
        ("ib", "port", "four thousand", "ib.port"),
        ("lake", "flush_interval_s", 0, "lake.flush_interval_s"),
        ("supervision", "backoff_max_s", -1.0, "supervision.backoff_max_s"),
        ("poller", "bogus_key", 1, "bogus_key"),
    ],
)
def test_a_malformed_config_value_is_refused_naming_the_key_and_nothing_starts(
    section: str, key: str, value: object, expected: str, tmp_path: Path
) -> None:
    threads = set(threading.enumerate())
    sections = fault_settings(4002, tmp_path)
    sections[section][key] = value
    config = write_toml(tmp_path / "bad.toml", sections)

    with pytest.raises(ConfigError, match=expected) as refused:
        Service(config)

    assert "\n" not in str(refused.value)
    assert set(threading.enumerate()) <= threads


def test_a_conid_the_gateway_does_not_know_is_parked_not_retried(
    sim: Simulator, rig_factory: Callable[..., Rig]
) -> None:
    rig = rig_factory(sim)
    rig.service.activate(UNKNOWN_CONID, "bad")  # by conid alone: the gateway is asked and says 200
    wait_until(lambda: any("200" in r and "parked" in r for r in rig.service.health()), 30, message="parked")
    rig.service.deactivate(UNKNOWN_CONID)

    requests = _streaming_requests(sim)
    rig.service.activate(UNKNOWN_CONID, "bad", contract=Contract(UNKNOWN_CONID, "NOPE", "STK"))

    parked = lambda: any(  # noqa: E731
        s.conid == UNKNOWN_CONID and s.state == "parked" for s in rig.service.status().streams
    )
    wait_until(parked, 30, message=f"{stream_name(UNKNOWN_CONID)} parked (error 200)")
    during(1.5, lambda: _streaming_requests(sim) == requests + 1)  # asked once: no hot loop
    assert sim.stats().snapshots <= 2, "the queue's snapshots of it back off (and it is parked there too)"
    rig.finish()  # the parked contract holds no line


def _streaming_requests(sim: Simulator) -> int:
    """reqMktData messages received that were not snapshots (the poller's snapshots back off on their own)."""
    stats = sim.stats()
    return stats.requests.get(REQ_MKT_DATA, 0) - stats.snapshots


def test_a_garbage_registry_row_written_by_another_tool_is_skipped_and_reported(
    sim: Simulator, rig_factory: Callable[..., Rig], warnings_logged: list[str]
) -> None:
    rig = rig_factory(sim)
    garbage = {field.name: [None] for field in ACTIVE_STRATEGIES.schema}
    garbage.update(conid=[-5], strategy_id=["other-tool"], active=[True], changed_ts=[datetime.now(UTC)])
    table = pa.Table.from_pydict(garbage, schema=ACTIVE_STRATEGIES.schema)

    append_rows(rig.root, table)  # as another tool would, retrying a commit that loses a race

    reported = lambda: any("skipped a bad row (conid must be a positive" in m for m in warnings_logged)  # noqa: E731
    wait_until(reported, 30, message="the bad row is reported")
    assert rig.service.running
    rig.finish()


MALFORMED = [
    b"1\x006\x00",  # a tick with too few fields
    b"1\x006\x00x\x001\x00not-a-price\x001\x000\x00",  # a tick with garbage numbers
    b"9999\x001\x00",  # an unknown message id
    b"not-an-id\x00",  # a message id that is not a number
    b"4\x002\x00-1\x00NaN\x00garbled error\x00\x00",  # an error whose code is not a number
    b"\xff\xfe\x00\x00",  # not UTF-8
]


@pytest.fixture(autouse=True)
def fail_on_dropped_ib_messages() -> Iterator[list[str]]:
    """Here ib_insync *must* drop the malformed messages (overrides the suite-wide guard)."""
    dropped: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: dropped.append(record.getMessage())  # type: ignore[method-assign]
    ib_logger = logging.getLogger("ib_insync")
    ib_logger.addHandler(handler)
    yield dropped
    ib_logger.removeHandler(handler)


def test_malformed_messages_from_the_gateway_are_dropped_and_the_service_goes_on(
    sim: Simulator, rig_factory: Callable[..., Rig], fail_on_dropped_ib_messages: list[str]
) -> None:
    with GatewayProxy(sim.port) as proxy:
        rig = rig_factory(sim, ib={"port": proxy.port})

        for payload in MALFORMED:
            assert proxy.inject(payload) == 1

        handled = lambda: any(m.startswith("Error handling fields") for m in fail_on_dropped_ib_messages)  # noqa: E731
        wait_until(handled, 10, message="ib_insync dropped them")
        rig.finish()
