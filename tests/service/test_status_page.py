"""The live status page (`GET /`) in a real browser: headless Chromium loads it from a running service
against the simulated gateway, its script runs, and the DOM it renders is compared with `/status`."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from possync import Service
from possync.messages.domain import Contract
from possync.simulator import Simulator
from tests.app.support import as_settings, get_json, register_active, scenario_settings
from tests.helpers import wait_until
from tests.service.browser import Browser, Page

ACTIVE = 5
GHOST = Contract(999_999_001, "GHOST", "STK")
"""A contract the simulated gateway does not know: its stream is refused (200) and parked."""
WAIT_S = 20.0

READ_PAGE = """(() => {
  const text = (name) => document.querySelector(`[data-field="${name}"]`).textContent;
  const rows = [...document.querySelectorAll('[data-field="streams"] tbody tr[data-conid]')];
  return {
    loaded: document.body.dataset.loaded, health: text("health"), connection: text("connection-state"),
    reconnects: text("reconnects"), marketData: text("market-data-type"), inUse: text("lines-in-use"),
    budget: text("lines-budget"),
    effective: text("lines-effective"), streams: text("stream-count"), rowsWritten: text("lake-rows-written"),
    reasons: [...document.querySelectorAll('[data-field="reasons"] li')].map((li) => li.textContent),
    sparkPoints: Number(document.querySelector('[data-field="spark-ticks"]').dataset.points || 0),
    rows: rows.map((tr) => ({conid: Number(tr.dataset.conid), state: tr.dataset.state, cls: tr.className,
      symbol: tr.querySelector('[data-col="symbol"]').textContent,
      reason: tr.querySelector('[data-col="reason"]').textContent})),
  };
})()"""

READ_RESTARTS = """Object.fromEntries([...document.querySelectorAll('[data-field="restarts"] tr[data-actor]')]
  .map((tr) => [tr.dataset.actor, tr.querySelector('.reason').textContent]))"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """One headless Chromium for the module's tests (skips when none is installed)."""
    with Browser(tmp_path_factory.mktemp("chromium-profile")) as chromium:
        yield chromium


@pytest.fixture
def service(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> Iterator[tuple[Service, Simulator]]:
    """A service streaming `ACTIVE` contracts, GHOST parked, against a simulator (endpoint on a free port)."""
    sim = simulator_factory(positions=10)
    sections = scenario_settings(sim.port, tmp_path)
    sections["poller"]["snapshot_lines"] = 0  # no line lent to snapshots: lines in use stay put
    register_active(Path(sections["lake"]["root"]), sim.positions()[:ACTIVE])
    with Service(as_settings(sections), http_port=0) as running:
        running.activate(GHOST.conid, "ghosts", priority=2, contract=GHOST)
        wait_until(lambda: _settled(running.http_port), WAIT_S, message="5 streaming, GHOST parked")
        yield running, sim


def _settled(port: int | None) -> dict[str, Any] | None:
    """/status once the five stream, GHOST is parked and the lake has committed rows."""
    status = get_json(port or 0, "/status")[1]
    states = sorted(stream["state"] for stream in status["streams"])
    settled = states == ["parked"] + ["streaming"] * ACTIVE and status["lake"]["rows_written"] > 0
    return status if settled and status["slots"]["in_use"] == ACTIVE else None


def _restarted(port: int | None) -> dict[str, Any] | None:
    """/status once the whole session below the connection has restarted after it."""
    status = get_json(port or 0, "/status")[1]
    restarted = status["supervision"]["restarts_by_actor"].keys()
    return status if {"connection", "slot_allocator", "streams"} <= restarted else None


def _count(text: str) -> int:
    return int(text.replace(",", ""))


def _page(browser: Browser, port: int | None) -> Page:
    page = browser.open(f"http://127.0.0.1:{port}/")
    loaded = lambda: page.evaluate("document.body?.dataset.loaded") == "true"  # noqa: E731
    wait_until(loaded, WAIT_S, message="page loaded")
    return page


@pytest.mark.timeout(60)
def test_the_page_shows_what_status_says(browser: Browser, service: tuple[Service, Simulator]) -> None:
    running, _ = service
    before = get_json(running.http_port or 0, "/status")[1]
    page = _page(browser, running.http_port)
    seen = wait_until(
        lambda: (
            (shown := page.evaluate(READ_PAGE))["sparkPoints"] > 0
            and _count(shown["rowsWritten"]) >= before["lake"]["rows_written"]
            and shown
        ),
        WAIT_S,
        message="the page rendered a status and the history",
    )
    after = get_json(running.http_port or 0, "/status")[1]

    assert seen["connection"] == "connected"
    asked = after["connection"]["market_data_type"]
    assert seen["marketData"] == asked == "live (delayed where not permitted)"
    assert _count(seen["inUse"]) == before["slots"]["in_use"] == after["slots"]["in_use"] == ACTIVE
    assert _count(seen["budget"]) == after["slots"]["budget"]
    assert _count(seen["effective"]) == after["slots"]["effective"]
    assert _count(seen["streams"]) == len(after["streams"]) == ACTIVE + 1
    assert before["lake"]["rows_written"] <= _count(seen["rowsWritten"]) <= after["lake"]["rows_written"]
    ghost = next(stream for stream in after["streams"] if stream["conid"] == GHOST.conid)
    parked = [row for row in seen["rows"] if row["state"] == "parked"]
    assert parked == [
        {
            "conid": GHOST.conid,
            "state": "parked",
            "cls": "parked",
            "symbol": "GHOST",
            "reason": ghost["reason"],
        }
    ]
    assert "200" in ghost["reason"]
    assert seen["rows"][0]["conid"] == GHOST.conid  # waiting rows first
    assert seen["health"] == "degraded" and seen["reasons"] == after["degraded"]


@pytest.mark.timeout(60)
def test_the_streams_table_sorts_by_a_clicked_column(
    browser: Browser, service: tuple[Service, Simulator]
) -> None:
    running, _ = service
    page = _page(browser, running.http_port)
    conids = "[...document.querySelectorAll('[data-field=\"streams\"] tbody tr')].map(r => +r.dataset.conid)"
    click = "document.querySelector('th[data-key=\"conid\"]').click()"
    status = _settled(running.http_port) or {"streams": []}
    streaming = [stream["conid"] for stream in status["streams"] if stream["state"] == "streaming"]

    page.evaluate(click)
    assert page.evaluate(conids)[1:] == sorted(streaming)  # the parked GHOST first, then by conid
    page.evaluate(click)
    assert page.evaluate(conids)[1:] == sorted(streaming, reverse=True)


@pytest.mark.timeout(60)
def test_the_page_shows_a_gateway_outage_and_keeps_refreshing(
    browser: Browser, service: tuple[Service, Simulator]
) -> None:
    running, sim = service
    page = _page(browser, running.http_port)
    shown = lambda: page.evaluate(READ_PAGE)  # noqa: E731

    sim.stop()
    down = wait_until(lambda: (s := shown())["connection"] == "disconnected" and s, WAIT_S, message="outage")
    assert down["health"] == "degraded"
    assert any("not connected to the gateway" in reason for reason in down["reasons"])

    sim.start()
    up = wait_until(
        lambda: (s := shown())["connection"] == "connected" and _count(s["reconnects"]) >= 1 and s,
        WAIT_S,
        message="connected again",
    )
    status = wait_until(lambda: _restarted(running.http_port), WAIT_S, message="the session restarted")
    assert _count(up["reconnects"]) == status["connection"]["reconnects"]
    last_exits = status["supervision"]["last_exit_by_actor"]
    assert last_exits.keys() == status["supervision"]["restarts_by_actor"].keys()
    assert "because connection exited" in last_exits["slot_allocator"]  # below the connection
    wait_until(lambda: page.evaluate(READ_RESTARTS) == last_exits, WAIT_S, message="restarts shown")

    running.stop()
    gone = wait_until(
        lambda: (s := shown())["health"] == "not answering" and s, WAIT_S, message="unreachable"
    )
    assert gone["connection"] == "connected"  # the last status stays on the page, dimmed
