"""`run.py doctor`: check a real setup in order and print a checklist with a fix for each failure.

The checks, in order: the config; the gateway's port (and the usual port mix-ups); the API handshake
(client id in use); the accounts the login manages against `ib.account`; market data for a sample of the
registry's active contracts (refusal codes, the data type served); the lines against `slots.budget`; the
lake and the queue's state directory writable; the HTTP port free. A check that needs an earlier one
(everything after the handshake needs a session) is skipped when that one failed. Exit 0 when nothing
failed, 1 otherwise; warnings do not fail.
"""

import socket
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from possync.actors.gateway import GatewayProbe, MarketDataProbe, load_client, probe_gateway
from possync.actors.registry import StrategyLog, latest_per_conid
from possync.config import ConfigError, Settings, load_settings
from possync.messages.domain import Contract

USUAL_PORTS = {4001: "IB Gateway, live", 4002: "IB Gateway, paper", 7496: "TWS, live", 7497: "TWS, paper"}
"""The API ports IB Gateway and TWS listen on by default."""
SAMPLE = 5
"""How many active contracts the market-data check asks for."""
IB_LINES = 100
"""The market-data lines an IB account has by default (more only with quote booster packs)."""
_TCP_TIMEOUT_S = 2.0
_DELAYED = frozenset({"delayed", "delayed_frozen"})
_HARMLESS = frozenset({10167})
"""Errors that leave a subscription working (10167: delayed data is shown instead of live)."""
_NO_API = (
    "enable the API (Configure > Settings > API > Enable ActiveX and Socket Clients), add this host to "
    "Trusted IPs, and check that ib.port is the gateway's API port, not another program's"
)
_ALL_IDS_IN_USE = "close the other API clients, or set ib.client_id (POSSYNC_IB_CLIENT_ID) to a free id"
_FIXES = {
    101: "other API clients or TWS hold lines, or the account has fewer than you think: lower slots.budget",
    200: "the contract is unknown to IB: correct it, or `run.py deactivate CONID`",
    321: "the request lacks an exchange: activate it with its exchange",
    354: "no market-data subscription for it: subscribe in Client Portal, or accept delayed data",
    10089: "no API market-data subscription for it: subscribe in Client Portal (Market Data Subscriptions)",
    10168: "no permission for this market data: subscribe, or allow delayed data",
    10197: "another session (TWS or a mobile login) holds the live data: log it out or wait for it",
}


@dataclass(frozen=True)
class Check:
    """One line of the checklist: `status` is ok, warn, fail or skip; `fix` says what to do on a failure."""

    name: str
    status: str
    detail: str
    fix: str = ""


def doctor(config: str | None, out: TextIO = sys.stdout, usual_ports: dict[int, str] | None = None) -> int:
    """Run every check against `config` (None: the packaged defaults), print the checklist; 0 or 1."""
    print(f"possync doctor: checking {config or 'the default config'}", file=out)
    checks = list(_checks(config, USUAL_PORTS if usual_ports is None else usual_ports))
    for check in checks:
        _print(check, out)
    failed = sum(1 for check in checks if check.status == "fail")
    verdict = f"{failed} check(s) failed: fix them in order and run doctor again" if failed else "all good"
    print(verdict, file=out)
    return 1 if failed else 0


def _print(check: Check, out: TextIO) -> None:
    mark = {"ok": "[ ok ]", "warn": "[warn]", "fail": "[FAIL]", "skip": "[skip]"}[check.status]
    print(f"{mark} {check.name}: {check.detail}", file=out)
    if check.fix:
        print(f"       fix: {check.fix}", file=out)


def _checks(config: str | None, usual_ports: dict[int, str]) -> list[Check]:
    try:
        settings = load_settings(config)
    except ConfigError as error:
        problem = str(error).removeprefix("config error: ")
        return [Check("config", "fail", problem, "correct the key named above (see config/default.toml)")]
    checks = [_config(config, settings), gateway_port(settings.ib.host, settings.ib.port, usual_ports)]
    if checks[-1].status == "ok":
        checks += _session_checks(settings)
    else:
        checks.append(Check("gateway session", "skip", "needs a gateway listening on ib.port"))
    return [*checks, lake_writable(settings), http_port(settings)]


def _config(config: str | None, settings: Settings) -> Check:
    ib = settings.ib
    detail = f"{config or 'defaults'} is valid: gateway {ib.host}:{ib.port}, client id {ib.client_id}"
    return Check("config", "ok", f"{detail}, {ib.client}, lake {settings.lake.root}")


# --- the gateway ---


def gateway_port(host: str, port: int, usual_ports: dict[int, str]) -> Check:
    """Whether something listens on `host:port`; if not, which of the usual API ports do."""
    if _listens(host, port):
        return Check("gateway reachable", "ok", f"{host}:{port} accepts connections")
    others = [f"{p} ({name})" for p, name in usual_ports.items() if p != port and _listens(host, p)]
    if others:
        return Check(
            "gateway reachable",
            "fail",
            f"nothing listens on {host}:{port}, but {', '.join(others)} does",
            f"set ib.port (POSSYNC_IB_PORT) to the port of the gateway you mean: {', '.join(others)}",
        )
    return Check(
        "gateway reachable",
        "fail",
        f"nothing listens on {host}:{port} (nor on the usual API ports {', '.join(map(str, usual_ports))})",
        "start IB Gateway or TWS and log in; its API port is under Configure > Settings > API > Settings",
    )


def _listens(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=_TCP_TIMEOUT_S):
            return True
    except OSError:
        return False


def _session_checks(settings: Settings) -> list[Check]:
    ib = settings.ib
    contracts, note = _sample(settings)
    probe = probe_gateway(
        load_client(ib.client), ib.host, ib.port, ib.client_id, ib.connect_timeout_s, contracts, sample=SAMPLE
    )
    if probe.error:
        fix = _ALL_IDS_IN_USE if "in use" in probe.error else _NO_API
        return [Check("API handshake", "fail", probe.error, fix)]
    checks = [handshake(probe, ib.client_id), accounts(probe, ib.account), *market_data(probe, note)]
    return [*checks, lines(probe, settings.slots.budget)]


def _sample(settings: Settings) -> tuple[list[Contract], str]:
    """Up to `SAMPLE` active contracts of the registry, most important first, and where they came from."""
    log = StrategyLog(Path(settings.lake.root))
    try:
        if log.version() is None:
            return [], "no registry yet: the first positions of the login"
        changes = latest_per_conid(log.read()[0]).values()
    except Exception as error:  # an unreadable registry is the lake check's business; sample positions
        return [], f"the registry is unreadable ({error}): the first positions of the login"
    active = sorted((c for c in changes if c.active), key=lambda c: (c.priority, c.contract.conid))
    if not active:
        return [], "no active contract in the registry: the first positions of the login"
    return [c.contract for c in active[:SAMPLE]], "active contracts of the registry"


def handshake(probe: GatewayProbe, client_id: int) -> Check:
    """The API session: server version, read-only, and the configured client id."""
    detail = f"session made (server version {probe.server_version}, read-only, client id {probe.client_id})"
    if probe.client_id_in_use:
        return Check(
            "API handshake",
            "fail",
            f"client id {client_id} is in use by another API client (326: {probe.client_id_in_use})",
            "close the other client, or set ib.client_id (POSSYNC_IB_CLIENT_ID) to an id no other client "
            f"uses (the service would fall back to {probe.client_id})",
        )
    return Check("API handshake", "ok", detail)


def accounts(probe: GatewayProbe, account: str) -> Check:
    """The accounts the login manages against `ib.account`."""
    managed = ", ".join(probe.accounts) or "none"
    if account and account not in probe.accounts:
        return Check(
            "accounts",
            "fail",
            f"ib.account = {account!r} is not managed by this login (managed: {managed})",
            'set ib.account to one of the managed accounts, or to "" for all of them',
        )
    which = f"ib.account = {account!r}" if account else "all accounts (ib.account is empty)"
    return Check("accounts", "ok", f"managed: {managed}; possync follows {which}")


def market_data(probe: GatewayProbe, note: str) -> list[Check]:
    """One check per sampled contract: its ticks and data type, or the gateway's refusal and its fix."""
    if not probe.market_data:
        return [Check("market data", "warn", f"nothing to sample ({note}): activate a contract and rerun")]
    return [_contract(result) for result in probe.market_data]


def _contract(result: MarketDataProbe) -> Check:
    name = f"market data {result.symbol or '?'} ({result.conid})"
    refusals = [(code, text) for code, text in result.errors if code not in _HARMLESS]
    if refusals:
        code, text = refusals[-1]
        fix = _FIXES.get(code, "see IB's message above; the service parks this contract and polls it")
        return Check(name, "fail", f"refused {code}: {text}", fix)
    if not result.ticks:
        return Check(name, "warn", "no tick within the probe's window (a closed market is quiet)")
    kind = result.data_type or "live"
    status = "warn" if kind in _DELAYED else "ok"
    ticks = f"{result.ticks} tick{'s' if result.ticks != 1 else ''}"
    return Check(name, status, f"{ticks}, data type {kind}")


def lines(probe: GatewayProbe, budget: int) -> Check:
    """The lines the gateway allowed the probe against `slots.budget` (the true cap is invisible)."""
    held = sum(1 for result in probe.market_data if result.ticks)
    refused = sum(1 for result in probe.market_data for code, _ in result.errors if code == 101)
    if refused:
        return Check(
            "lines",
            "fail",
            f"the gateway refused {refused} line(s) with 101 while the probe held {held}: "
            f"far fewer than slots.budget = {budget}",
            _FIXES[101],
        )
    if budget > IB_LINES:
        return Check("lines", "warn", f"slots.budget = {budget} is above IB's default {IB_LINES} lines")
    return Check("lines", "ok", f"{held} sample line(s) accepted, no 101; slots.budget = {budget}")


# --- the host ---


def lake_writable(settings: Settings) -> Check:
    """The lake root and the queue's state directory can be written (object storage is not checked)."""
    root = settings.lake.root
    if "://" in root:
        return Check("lake writable", "skip", f"{root} is object storage: checked by the service at start")
    for path in (Path(root), Path(settings.queue.state_file).parent):
        problem = _unwritable(path)
        if problem:
            return Check("lake writable", "fail", problem, f"make {path} a writable directory, or change it")
    return Check("lake writable", "ok", f"{root} and {Path(settings.queue.state_file).parent} are writable")


def _unwritable(path: Path) -> str:
    """Why possync could not write files in `path` (created if missing), or ""."""
    existing = next((p for p in (path, *path.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        return f"{path} cannot be created: {existing} is a file, not a directory"
    probe = existing / ".possync-doctor-probe"
    try:
        probe.write_bytes(b"possync doctor\n")
        probe.unlink()
    except OSError as error:
        return f"{existing} is not writable: {error.strerror or error}"
    return ""


def http_port(settings: Settings) -> Check:
    """Whether `http.port` is free for the status endpoint (or who holds it)."""
    http = settings.http
    if http.port == 0:
        return Check("http port", "ok", "the status endpoint is off (http.port = 0)")
    host = "127.0.0.1" if http.host in ("0.0.0.0", "::") else http.host
    if not _listens(host, http.port):
        return Check("http port", "ok", f"{host}:{http.port} is free for the status endpoint")
    fix = "stop the other service, or set http.port (POSSYNC_HTTP_PORT) to a free port (0: no endpoint)"
    who = _possync_at(f"http://{host}:{http.port}/status")
    return Check("http port", "fail", f"{host}:{http.port} is taken: {who}", fix)


def _possync_at(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=_TCP_TIMEOUT_S) as reply:
            body = reply.read()
    except (urllib.error.URLError, OSError, ValueError):
        return "by a program that is not possync"
    return "a possync service already runs there" if b'"connection"' in body else "by another HTTP server"
