"""A fleet on one S3 lake: two services (separate processes, one simulated gateway and account each) append
to the same tables; one is killed with SIGKILL and started again; the bucket becomes unreachable for a while.

Afterwards every acknowledged observation is in `position_updates` exactly once per writer, both accounts'
positions are there, maintenance ran on one writer only, and `run.py positions` and polars read the lake.
"""

import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from possync.actors.lake import POSITION_UPDATES, LakeLocation, lease_state
from possync.actors.lake import _sink as delta_sink
from possync.actors.lake._query import query
from possync.actors.registry import activation, append_change
from possync.simulator import Simulator
from tests.app.support import REPO, demo_contract, free_port, get_json, write_toml
from tests.faults.invariants import Acknowledged, Identity, exactly_once
from tests.faults.rig import fault_settings
from tests.helpers import wait_until
from tests.s3 import S3Server

ACCOUNTS = ("DU111111", "DU222222")
ACTIVE = 2
WAIT_S = 60.0


class Member:
    """One service of the fleet: its config, acknowledgements file, log, HTTP port and process."""

    def __init__(self, tmp: Path, sim: Simulator, account: str, s3: S3Server, root: str) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.http_port, self.account = free_port(), account
        sections = fault_settings(sim.port, tmp, http={"port": self.http_port})
        sections["ib"]["account"] = account
        sections["lake"] = {
            "root": root,
            "storage_options": s3.storage_options,
            "local_dir": str(tmp / "state"),
            "flush_interval_s": 0.2,
            "maintenance_lease_s": 600.0,
            "compact_every_commits": 10,
        }
        self.config = write_toml(tmp / "possync.toml", sections)
        self.acks, self.log = tmp / "acks", tmp / "service.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as sink:
            command = [sys.executable, "-m", "tests.faults.service_child", str(self.config), str(self.acks)]
            self.process = subprocess.Popen(command, cwd=REPO, stdout=sink, stderr=sink)

    def acked(self) -> int:
        return sum(Acknowledged.load(self.acks).values())

    def get(self, path: str) -> tuple[int, Any]:
        try:
            return get_json(self.http_port, path)
        except OSError:
            return 0, {}

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        assert self.process.wait(10) == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                assert self.process.wait(30) == 0, self.log.read_text()
            finally:
                if self.process.poll() is None:
                    self.process.kill()
                    self.process.wait(10)


def identities(location: LakeLocation) -> Counter[Identity]:
    """How often each observation identity is in the S3 lake's `position_updates`."""
    table = location.open(POSITION_UPDATES.name)
    assert table is not None
    sql = "SELECT account, conid, source, CAST(event_ts AS BIGINT) AS ts, position, market_price FROM t"
    data = query(table, sql).to_pydict()
    columns = (data[name] for name in ("account", "conid", "source", "ts", "position", "market_price"))
    return Counter(tuple(row) for row in zip(*columns, strict=True))  # type: ignore[misc]


def maintainers(location: LakeLocation) -> set[str]:
    """The writers of every compaction of `position_updates`."""
    table = location.open(POSITION_UPDATES.name)
    history = table.history() if table is not None else []
    return {c.get(delta_sink.WRITER_KEY, "") for c in history if c.get("operation") == "OPTIMIZE"}


def lake_healthy(member: Member) -> bool:
    """The service's lake writer commits again (rows keep coming: pending is rarely 0 at any instant)."""
    code, status = member.get("/status")
    return code == 200 and status["lake"]["healthy"]


@pytest.mark.timeout(180)
def test_two_services_on_one_s3_lake_survive_a_sigkill_and_an_unreachable_bucket_exactly_once(
    simulator_factory: Callable[..., Simulator], s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = s3.lake_uri("fleet-e2e")
    location = LakeLocation.of(root, s3.storage_options)
    sims = [simulator_factory(positions=8, accounts=(account,)) for account in ACCOUNTS]
    for sim, account in zip(sims, ACCOUNTS, strict=True):
        for position in sim.positions()[:ACTIVE]:
            contract = demo_contract(position)
            change = activation(location, contract.conid, "fleet", 3, "test", contract, account)
            append_change(location, change)
    members = [Member(tmp_path / a, sim, a, s3, root) for sim, a in zip(sims, ACCOUNTS, strict=True)]
    try:
        for member in members:
            member.start()
        wait_until(lambda: all(m.acked() >= 50 for m in members), WAIT_S, 0.05, "both services write")

        first, second = members
        first.kill()
        before = second.acked()
        first.start()
        wait_until(lambda: first.get("/health")[0] == 200, WAIT_S, 0.1, "the killed service is back")

        s3.cut()
        try:
            down = wait_until(lambda: second.get("/health")[1].get("reasons"), WAIT_S, 0.1, "degraded")
            assert any("unreachable" in reason for reason in down), down
            assert not any("testing-secret" in reason for reason in down)
            wait_until(lambda: second.acked() > before + 20, WAIT_S, 0.05, "acks during the outage")
        finally:
            s3.restore()
        wait_until(lambda: all(map(lake_healthy, members)), WAIT_S, 0.2, "writing again")
        wait_until(lambda: maintainers(location), WAIT_S, 0.5, "a compaction")
    finally:
        for member in members:
            member.stop()

    lake = identities(location)
    acknowledged = sum((Acknowledged.load(m.acks) for m in members), Counter())
    check = exactly_once(acknowledged, lake)
    assert check.problems(strays_allowed=True) == []  # a row journaled just before the SIGKILL may be unacked
    assert {key[0] for key in lake} == set(ACCOUNTS)
    holder = lease_state(location)
    assert holder is not None and maintainers(location) == {holder.holder}

    positions = subprocess.run(
        [sys.executable, "run.py", "positions", "--config", str(members[0].config), "--format", "csv"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert positions.returncode == 0, positions.stderr
    assert all(account in positions.stdout for account in ACCOUNTS)
    frame = pl.read_delta(location.table_uri(POSITION_UPDATES.name), storage_options=s3.reader_options)
    assert frame.height == sum(lake.values())
