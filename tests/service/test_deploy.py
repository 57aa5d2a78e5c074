"""deploy/: every metric the Grafana dashboard and the alert rules use is served by a live service's
/metrics; the systemd unit and the Prometheus example say what the README promises."""

import json
import re
import tomllib
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from possync import Service
from possync.simulator import Simulator
from tests.app.support import REPO, as_settings, get_json, register_active, scenario_settings
from tests.helpers import wait_until

DEPLOY = REPO / "deploy"
METRIC = re.compile(r"\bpossync_[a-z0-9_]+")


def served_names(text: str) -> set[str]:
    """Every metric name a Prometheus query may use against this exposition text."""
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and line[0] != "#"}
    for kind_line in (line.split() for line in text.splitlines() if line.startswith("# TYPE ")):
        name, kind = kind_line[2], kind_line[3]
        counter = kind == "counter" and not name.endswith("_total")
        names.add(f"{name}_total" if counter else name)  # a family without samples yet
    return names


def panels() -> list[dict]:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


@pytest.mark.timeout(60)
def test_every_metric_of_the_dashboard_and_the_alerts_is_served(
    simulator_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = simulator_factory(positions=10)
    sections = scenario_settings(sim.port, tmp_path)
    register_active(Path(sections["lake"]["root"]), sim.positions()[:3])
    with Service(as_settings(sections), http_port=0) as service:
        port = service.http_port or 0
        wait_until(lambda: get_json(port, "/status")[1]["lake"]["commits"] > 0, 20, message="a commit")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
            served = served_names(reply.read().decode())

    exprs = [target["expr"] for panel in panels() for target in panel["targets"]]
    used_by_panels = {name for expr in exprs for name in METRIC.findall(expr)}
    used_by_alerts = set(METRIC.findall((DEPLOY / "possync-alerts.yml").read_text()))
    assert used_by_panels - served == set()
    assert used_by_alerts - served == set()
    assert len(used_by_panels) >= 15  # the dashboard covers the service, not a corner of it


@pytest.mark.timeout(10)
def test_every_panel_queries_possync_through_the_dashboard_datasource() -> None:
    ids = [panel["id"] for panel in panels()]
    assert len(ids) == len(set(ids))
    for panel in panels():
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert METRIC.search(target["expr"]), (panel["title"], target["expr"])
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"


@pytest.mark.timeout(10)
def test_the_systemd_unit_and_the_scrape_example_fit_the_defaults() -> None:
    unit = (DEPLOY / "possync.service").read_text()
    for setting in ("Restart=on-failure", "KillSignal=SIGTERM", "WorkingDirectory=/var/lib/possync"):
        assert f"\n{setting}\n" in unit, setting
    assert re.search(r"\nExecStart=\S+ --config /etc/possync/possync\.toml\n", unit)
    defaults = tomllib.loads((REPO / "config" / "default.toml").read_text())["http"]
    scrape = (DEPLOY / "prometheus.yml").read_text()
    assert f'"{defaults["host"]}:{defaults["port"]}"' in scrape and "metrics_path: /metrics" in scrape
    assert "possync-alerts.yml" in scrape
