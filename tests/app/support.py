"""Test parts for the application: settings for a service against a simulator, a TOML writer, HTTP, the lake.

The same acceptance scenario runs through the facade (in-process) and through `python run.py` (a separate
process): both use `scenario_settings`, register the first `ACTIVE` positions with `register_active`, and
read the lake with `sources_by_conid`.
"""

import json
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import msgspec
from deltalake import DeltaTable

from possync._run import demo_contract
from possync.actors.lake._query import query
from possync.actors.lake._tables import POSITION_UPDATES, TABLES
from possync.actors.registry._store import append_change
from possync.config import Settings
from possync.messages.domain import utc_now
from possync.messages.lake import StrategyChange
from possync.simulator import DemoPosition
from tests.conftest import next_client_id
from tests.helpers import ib_client

POSITIONS = 200
ACTIVE = 20
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scenario_settings(gateway_port: int, tmp: Path, http_port: int = 0) -> dict[str, dict[str, Any]]:
    """Settings (as TOML-like sections) for a quick service against a gateway, everything under `tmp`."""
    return {
        "ib": {
            "port": gateway_port,
            "client_id": next_client_id(),
            "connect_timeout_s": 5.0,
            "client": ib_client(),
        },
        "lake": {"root": str(tmp / "lake"), "flush_interval_s": 0.2},
        "poller": {"interval_s": 0.5, "batch_size": POSITIONS, "reconcile_interval_s": 60.0},
        "queue": {"state_file": str(tmp / "state" / "queue.msgpack"), "save_interval_s": 0.5},
        "registry": {"refresh_interval_s": 0.5},
        "http": {"host": "127.0.0.1", "port": http_port},
        "supervision": {"intensity": 20, "period_s": 10.0, "backoff_min_s": 0.05, "backoff_max_s": 1.0},
    }


def as_settings(sections: dict[str, dict[str, Any]]) -> Settings:
    """The `Settings` of `sections`."""
    return msgspec.convert(sections, Settings)


def write_toml(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    """Write `sections` as a TOML config file (tables of strings, numbers, booleans and inline tables)."""
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in values.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml_value(value: Any) -> str:
    """`value` as TOML: JSON for scalars, an inline table of them for a dict."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def register_active(root: Path, positions: list[DemoPosition], strategy_id: str = "e2e") -> None:
    """Append activations of `positions` to active_strategies, as a user would before the first start."""
    for position in positions:
        append_change(root, StrategyChange(demo_contract(position), strategy_id, 5, True, utc_now(), "test"))


def sources_by_conid(root: Path) -> dict[int, set[str]]:
    """Which sources wrote rows of each conid in position_updates (empty while the table does not exist)."""
    path = str(root / POSITION_UPDATES.name)
    if not DeltaTable.is_deltatable(path):
        return {}
    table = query(DeltaTable(path), "SELECT DISTINCT conid, source FROM t").to_pydict()
    found: dict[int, set[str]] = {}
    for conid, source in zip(table["conid"], table["source"], strict=True):
        found.setdefault(conid, set()).add(source)
    return found


def rows_for_every_conid(root: Path, streamed: set[int], polled: set[int]) -> bool:
    """Whether position_updates holds rows of exactly these conids: stream rows for `streamed`, poll rows
    for `polled` (the lake lags the writer by a flush, so tests wait for this)."""
    sources = sources_by_conid(root)
    return (
        sources.keys() == streamed | polled
        and all("stream" in sources[conid] for conid in streamed)
        and all("poll" in sources[conid] for conid in polled)
    )


def lake_rows(root: Path) -> int:
    """How many rows the lake's tables hold in all."""
    paths = [str(root / table.name) for table in TABLES]
    counts = [
        query(DeltaTable(path), "SELECT count(*) AS n FROM t")
        for path in paths
        if DeltaTable.is_deltatable(path)
    ]
    return sum(count["n"][0].as_py() for count in counts)


def get_json(port: int, path: str) -> tuple[int, Any]:
    """GET `path` of the loopback endpoint on `port`: (status code, decoded JSON body)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
