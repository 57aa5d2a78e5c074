"""The admin HTTP endpoint: every fault over loopback HTTP, and a clear 4xx for every bad request."""

import re
import socket
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from possync.simulator import Simulator
from tests.simulator.mdsupport import contract
from tests.simulator.support import admin, ib_wait

Connect = Callable[..., Any]


def test_stats_reports_clients_lines_and_counters(simulator: Simulator, ib: Any, client: ModuleType) -> None:
    ticker = ib.reqMktData(contract(client, "AAPL"))
    ib_wait(ib, lambda: ticker.last > 0)
    status, stats = admin(simulator, "GET", "/stats")
    assert status == 200
    assert stats["clients"] == 1 and stats["subscriptions"] == 1
    assert stats["max_lines"] == simulator.config.max_lines
    assert stats["requests"]["61"] == 1 and stats["requests"]["1"] == 1  # by message id
    assert (stats["orders"], stats["refused_101"], stats["pacing_violations"]) == (0, 0, 0)


def test_positions_lists_every_position_with_its_contract(simulator: Simulator) -> None:
    status, positions = admin(simulator, "GET", "/positions")
    assert status == 200
    keys = {"conid", "symbol", "sec_type", "expiry", "strike", "right", "position", "account"}
    assert all(keys <= set(p) for p in positions)
    assert [p["conid"] for p in positions] == [p.conid for p in simulator.positions()]


def test_drop_disconnects_the_clients(simulator: Simulator, ib: Any) -> None:
    gone: list[bool] = []
    ib.disconnectedEvent += lambda: gone.append(True)
    assert admin(simulator, "POST", "/drop") == (200, {"dropped": 1})
    ib_wait(ib, lambda: gone, message="disconnectedEvent")


def test_error_sends_the_code_to_every_client(simulator: Simulator, ib: Any) -> None:
    codes: list[int] = []
    ib.errorEvent += lambda _req_id, code, *_: codes.append(code)
    assert admin(simulator, "POST", "/error", {"code": 1101}) == (200, {"code": 1101, "clients": 1})
    ib_wait(ib, lambda: codes == [1101])


def test_max_lines_changes_the_limit(simulator: Simulator) -> None:
    assert admin(simulator, "POST", "/max-lines", {"n": 50}) == (200, {"max_lines": 50})
    assert simulator.stats().max_lines == 50


def test_pause_and_resume(simulator: Simulator) -> None:
    assert admin(simulator, "POST", "/pause") == (200, {"paused": True})
    assert simulator.stats().paused
    assert admin(simulator, "GET", "/stats")[0] == 200  # the admin endpoint keeps answering
    assert admin(simulator, "POST", "/resume") == (200, {"paused": False})
    assert not simulator.stats().paused


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/error", b"", 400, 'bad JSON body .* send e.g. {"code": 1101}'),
        ("POST", "/error", b"{not json", 400, "bad JSON body"),
        ("POST", "/error", b"{}", 400, "missing required field `code`"),
        ("POST", "/error", b'{"code": "1101"}', 400, r"Expected `int`, got `str` - at `\$.code`"),
        ("POST", "/error", b'{"code": 0}', 400, r"Expected `int` >= 1 - at `\$.code`"),
        ("POST", "/max-lines", b'{"n": -1}', 400, r">= 0 - at `\$.n`"),
        ("POST", "/max-lines", b'{"lines": 5}', 400, "unknown field `lines`"),
        ("POST", "/position", b'{"conid": 1, "position": 5}', 400, "unknown conid 1"),
        (
            "POST",
            "/position",
            b'{"conid": 265598, "position": 5, "account": "X"}',
            400,
            "unknown account 'X'",
        ),
        ("POST", "/position", b'{"conid": 265598}', 400, "missing required field `position`"),
        ("POST", "/entitlements", b'{"conids": [1], "live": false}', 400, "unknown conid 1"),
        ("POST", "/entitlements", b'{"conids": [265598]}', 400, 'give "live" and/or "delayed"'),
        ("POST", "/entitlements", b'{"conids": [], "live": false}', 400, "conids is empty"),
        ("POST", "/entitlements", b'{"conids": [265598], "live": "no"}', 400, r"got `str` - at `\$.live`"),
        ("POST", "/entitlements", b'{"conid": 265598, "live": false}', 400, "unknown field `conid`"),
        ("POST", "/market", b"{}", 400, "missing required field `open`"),
        ("POST", "/market", b'{"open": false, "conids": [1]}', 400, "unknown conid 1"),
        ("POST", "/market", b'{"open": "closed"}', 400, r"got `str` - at `\$.open`"),
        ("POST", "/clock", b"{}", 400, "give exactly one of offset_s"),
        ("POST", "/clock", b'{"offset_s": 60, "at": "2026-12-05T12:00:00Z"}', 400, "exactly one"),
        ("POST", "/clock", b'{"at": "2026-12-05T12:00:00"}', 400, "has no time zone"),
        ("POST", "/clock", b'{"offset_s": 1e12}', 400, "offset_s=1000000000000.0 is out of range"),
        ("POST", "/competing-session", b"{}", 400, "missing required field `on`"),
        ("GET", "/competing-session", None, 405, "use POST /competing-session"),
        ("GET", "/nope", None, 404, "no endpoint '/nope'; the endpoints are: GET /stats"),
        ("GET", "/drop", None, 405, "use POST /drop"),
    ],
)
def test_bad_requests_get_a_clear_error_and_change_nothing(
    simulator: Simulator, method: str, path: str, body: bytes | None, status: int, message: str
) -> None:
    before = _state(simulator)
    got_status, payload = admin(simulator, method, path, raw=body)
    assert got_status == status
    assert payload.keys() == {"error"}
    assert re.search(message, payload["error"]), payload["error"]
    assert _state(simulator) == before


def _state(sim: Simulator) -> tuple[object, ...]:
    """What a refused admin request must leave as it was."""
    market = sim.market()
    stats = sim.stats()
    markets = (market.mode, market.conids, market.offset_s)
    return sim.positions(), stats.max_lines, stats.competing_session, sim.entitlements(), markets


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\xff\xfe garbage\r\n\r\n",
        b"NOT-HTTP\r\n\r\n",
        b"POST /error HTTP/1.1\r\nContent-Length: x\r\n\r\n",
    ],
)
def test_garbage_on_the_admin_port_is_answered_or_dropped_and_harms_nothing(
    simulator: Simulator, garbage: bytes
) -> None:
    with socket.create_connection(("127.0.0.1", simulator.admin_port), timeout=10) as sock:
        sock.sendall(garbage)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply == b"" or reply.startswith(b"HTTP/1.1 400 ")
    assert admin(simulator, "GET", "/stats")[0] == 200


def test_a_position_change_over_http_survives_a_restart(simulator: Simulator) -> None:
    status, body = admin(simulator, "POST", "/position", {"conid": 265598, "position": 12})
    assert status == 200 and body["position"] == 12
    simulator.restart()
    assert {p.conid: p.position for p in simulator.positions()}[265598] == 12


def test_entitlements_are_listed_and_set_per_conid(simulator: Simulator) -> None:
    status, listed = admin(simulator, "GET", "/entitlements")
    assert status == 200 and len(listed) == len(simulator.entitlements())
    aapl = next(e for e in listed if e["conid"] == 265598)
    assert aapl == {
        "conid": 265598,
        "symbol": "AAPL",
        "sec_type": "STK",
        "local_symbol": "AAPL",
        "live": True,
        "delayed": True,
        "overridden": False,
    }
    status, changed = admin(simulator, "POST", "/entitlements", {"conids": [265598], "live": False})
    assert status == 200 and [(e["live"], e["delayed"], e["overridden"]) for e in changed] == [
        (False, True, True)
    ]
    assert not next(e for e in simulator.entitlements() if e.conid == 265598).live


def test_markets_and_the_clock_are_set_over_http(simulator: Simulator) -> None:
    status, market = admin(simulator, "GET", "/market")
    assert status == 200 and (market["mode"], market["conids"], market["offset_s"]) == ("open", {}, 0.0)
    assert admin(simulator, "POST", "/market", {"open": None})[1]["mode"] == "hours"
    status, market = admin(simulator, "POST", "/market", {"open": False, "conids": [265598]})
    assert (market["mode"], market["conids"]) == ("hours", {"265598": "closed"})
    assert simulator.stats().market == "hours"
    status, clock = admin(simulator, "POST", "/clock", {"at": "2026-12-05T12:00:00-05:00"})
    assert status == 200 and clock["now"].startswith("2026-12-05T17:00")
    assert admin(simulator, "GET", "/clock")[1]["now"].startswith("2026-12-05T17:0")
    assert admin(simulator, "POST", "/clock", {"offset_s": 0})[1]["offset_s"] == 0.0
