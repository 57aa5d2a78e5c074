"""possync's command line: run the service or the --sim demo, change the registry, read the lake, ask status.

    python run.py [--config PATH] [--sim] [--duration S] [--log-level LEVEL]   run until SIGINT/SIGTERM
    python run.py activate CONID --strategy-id ID [--priority P]               make a contract active
    python run.py deactivate CONID                                             make it inactive again
    python run.py positions [--format table|json|csv] [--wide]                 latest positions in the lake
    python run.py maintain                                                     compact/checkpoint/vacuum once
    python run.py status [--json]                                              ask the running service
    python run.py doctor                                                       check the setup: what to fix

Every command reads `--config` (default: the packaged config/default.toml) with POSSYNC_<SECTION>_<KEY>
environment overrides. Exit codes: 0 ok, 1 runtime failure, 2 usage or config error; errors are one line
on stderr naming the problem.
"""

import argparse
import csv
import logging
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable

import msgspec
from deltalake.exceptions import DeltaError

from possync._doctor import doctor
from possync._errors import RuntimeFailure, UsageError
from possync._run import SIM_LAKE, demo_settings, run_service
from possync.actors.lake import LakeLocation, LakeRowError, LatestPositions, location_of, maintain_lake
from possync.actors.registry import (
    activation,
    append_change,
    current_change,
    deactivation,
)
from possync.actors.service import summary
from possync.config import ConfigError, Settings, load_settings
from possync.config.settings import LOG_LEVELS
from possync.messages.domain import Contract, Greeks, Observation, Quote, Value
from possync.messages.lake import StrategyChange
from possync.messages.routing import DEFAULT_PRIORITY
from possync.messages.status import ServiceStatus

CHANGED_BY = "possync-cli"
STATUS_TIMEOUT_S = 10.0
# --- the command line ---


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The parsed command line (argparse exits 2 with its usage line on a mistake)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="TOML config (default: config/default.toml)",
    )
    common.add_argument(
        "--sim",
        action="store_true",
        default=argparse.SUPPRESS,
        help=f"the demo: a simulated gateway in this process, the lake under ./{SIM_LAKE}",
    )
    parser = argparse.ArgumentParser(
        prog="python run.py",
        description="possync: IB positions in Delta Lake within the market-data line budget.",
        parents=[common],
    )
    parser.add_argument("--duration", type=_positive, metavar="SECONDS", help="stop by itself after SECONDS")
    parser.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, help="override log.level")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    activate = commands.add_parser("activate", parents=[common], help="make a contract active (it streams)")
    activate.add_argument("conid", type=_conid, help="IB contract id")
    activate.add_argument("--strategy-id", required=True, type=_text, help="the strategy it is active for")
    activate.add_argument("--priority", type=_conid, default=DEFAULT_PRIORITY, help="1 is the most important")
    activate.add_argument("--symbol", type=_text, help="for a conid the lake has not seen yet: its symbol")
    activate.add_argument("--sec-type", type=_text, help="... and its security type (STK, OPT, FUT, ...)")
    activate.add_argument("--expiry", default="", help="... for options and futures: YYYYMMDD")
    activate.add_argument("--strike", type=float, default=0.0, help="... for options: the strike")
    activate.add_argument("--right", default="", choices=("", "C", "P"), help="... for options: C or P")
    activate.add_argument("--account", default="", help="only for the service of this account (default: all)")

    deactivate = commands.add_parser("deactivate", parents=[common], help="make a contract inactive")
    deactivate.add_argument("conid", type=_conid, help="IB contract id")
    deactivate.add_argument("--account", default="", help="only for the service of this account")

    positions = commands.add_parser("positions", parents=[common], help="latest positions in the lake")
    positions.add_argument("--format", choices=("table", "json", "csv"), default="table")
    positions.add_argument(
        "--wide", action="store_true", help="also the quote, greeks, data type, daily and realized P&L"
    )

    commands.add_parser("maintain", parents=[common], help="compact, checkpoint and vacuum the lake once")

    status = commands.add_parser("status", parents=[common], help="ask the running service")
    status.add_argument("--json", action="store_true", help="print the status document as JSON")

    commands.add_parser(
        "doctor", parents=[common], help="check the config, gateway, market data, lake and HTTP port"
    )
    return parser.parse_args(argv)


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _conid(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive integer")
    return value


def _text(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text.strip()


def main(argv: list[str] | None = None) -> int:
    """Run the command; return its exit code."""
    args = parse_args(argv)
    commands: dict[str | None, Callable[[argparse.Namespace, Settings], int]] = {
        None: run_service,
        "activate": activate,
        "deactivate": deactivate,
        "positions": positions,
        "maintain": maintain,
        "status": status,
    }
    if args.command == "doctor":  # it checks the config itself, as the first line of its checklist
        logging.getLogger().addHandler(logging.NullHandler())  # the checklist says what the IB client logs
        return doctor(getattr(args, "config", None))
    try:
        settings = load_settings(getattr(args, "config", None))  # set if given, before or after COMMAND
        if getattr(args, "sim", False):
            settings = demo_settings(settings)
        return commands[args.command](args, settings)
    except (ConfigError, UsageError) as error:
        print(f"possync: {error}", file=sys.stderr)
        return 2
    except RuntimeFailure as error:
        print(f"possync: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `positions | head`: the reader has gone; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


# --- the registry ---


def activate(args: argparse.Namespace, settings: Settings) -> int:
    """Append an activation to active_strategies (the running service picks it up within seconds)."""
    root = location_of(settings.lake)
    contract = None
    if args.symbol or args.sec_type:  # any descriptive field given: the service completes the rest
        fields = (args.symbol or "", args.sec_type or "", args.expiry, args.strike, args.right)
        contract = Contract(args.conid, *fields)
    try:
        change = activation(
            root, args.conid, args.strategy_id, args.priority, CHANGED_BY, contract, args.account
        )
    except (DeltaError, OSError) as error:
        raise RuntimeFailure(f"cannot read the lake at {root}: {root.redact(str(error))}") from error
    _append(root, change)
    what = change.contract.symbol or "described by the gateway once the service runs"
    print(
        f"conid {args.conid} ({what}) active for strategy {args.strategy_id!r}, priority "
        f"{args.priority}; the service picks it up within {settings.registry.refresh_interval_s:g}s"
    )
    return 0


def deactivate(args: argparse.Namespace, settings: Settings) -> int:
    """Append a deactivation to active_strategies; 1 if the conid is not active."""
    root = location_of(settings.lake)
    try:
        current = current_change(root, args.conid, args.account)
    except (DeltaError, OSError) as error:
        raise RuntimeFailure(f"cannot read the lake at {root}: {root.redact(str(error))}") from error
    if current is None or not current.active:
        raise RuntimeFailure(f"conid {args.conid} is not active in {root}: nothing written")
    _append(root, deactivation(root, args.conid, CHANGED_BY, args.account))
    print(f"conid {args.conid} ({current.contract.symbol}) inactive; its line is released within seconds")
    return 0


def _append(root: LakeLocation, change: StrategyChange) -> None:
    try:
        append_change(root, change)
    except LakeRowError as error:
        raise UsageError(str(error)) from error
    except (DeltaError, OSError) as error:
        raise RuntimeFailure(f"cannot write {root}/active_strategies: {root.redact(str(error))}") from error


def maintain(args: argparse.Namespace, settings: Settings) -> int:
    """Compact, checkpoint and vacuum every table once, under the lake's maintenance lease; 1 if another
    writer holds the lease or a table could not be maintained."""
    root = location_of(settings.lake)
    try:
        outcome = maintain_lake(root, settings.lake.maintenance_lease_s, settings.lake.max_commit_retries)
    except (DeltaError, OSError) as error:
        raise RuntimeFailure(f"cannot maintain the lake at {root}: {root.redact(str(error))}") from error
    if outcome.held_by:
        raise RuntimeFailure(f"the maintenance lease of {root} is held by {outcome.held_by}: try again later")
    for problem in outcome.problems:
        print(f"not maintained: {problem}", file=sys.stderr)
    print(f"maintained {', '.join(outcome.maintained) or 'no table'} in {root}")
    return 1 if outcome.problems else 0


# --- reading ---


COLUMNS = (
    "account",
    "conid",
    "symbol",
    "sec_type",
    "expiry",
    "strike",
    "right",
    "position",
    "avg_cost",
    "market_price",
    "market_value",
    "unrealized_pnl",
    "source",
    "event_ts",
)
"""The columns `positions` prints, in order."""
WIDE_COLUMNS = (
    *COLUMNS,
    "data_type",
    "daily_pnl",
    "realized_pnl",
    *Quote.__struct_fields__,
    *Greeks.__struct_fields__,
)
"""The columns of `positions --wide`."""


def positions(args: argparse.Namespace, settings: Settings) -> int:
    """Print the latest observation per account and conid from position_updates."""
    root = location_of(settings.lake)
    try:
        latest = LatestPositions(root).refresh()
    except (DeltaError, OSError) as error:
        raise RuntimeFailure(f"cannot read the lake at {root}: {root.redact(str(error))}") from error
    if not latest:
        raise RuntimeFailure(f"no positions in the lake at {root} yet: has the service run with this config?")
    columns = WIDE_COLUMNS if args.wide else COLUMNS
    rows = [_row(latest[key], columns) for key in sorted(latest)]
    if args.format == "json":
        sys.stdout.write(msgspec.json.format(msgspec.json.encode(rows), indent=2).decode() + "\n")
    elif args.format == "csv":
        writer = csv.DictWriter(sys.stdout, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        _print_table(rows, columns)
    return 0


def _row(observation: Observation, columns: tuple[str, ...]) -> dict[str, object]:
    every = {**_base(observation), **_parts(observation)}
    return {column: every[column] for column in columns}


def _parts(observation: Observation) -> dict[str, object]:
    """What the position is worth, the quote, the greeks and the data type (None where the row has none)."""
    parts = (observation.value or Value(), observation.quote or Quote(), observation.greeks or Greeks())
    values = {name: value for part in parts for name, value in msgspec.structs.asdict(part).items()}
    data_type = observation.data_type
    return {**values, "data_type": None if data_type is None else str(data_type)}


def _base(observation: Observation) -> dict[str, object]:
    contract = observation.contract
    return {
        "account": observation.account,
        "conid": contract.conid,
        "symbol": contract.symbol,
        "sec_type": contract.sec_type,
        "expiry": contract.expiry,
        "strike": contract.strike or None,
        "right": contract.right,
        "position": observation.position,
        "avg_cost": observation.avg_cost,
        "market_price": observation.market_price,
        "source": str(observation.source),
        "event_ts": observation.event_ts.isoformat(timespec="milliseconds"),
    }


def _print_table(rows: list[dict[str, object]], columns: tuple[str, ...]) -> None:
    cells = [[_cell(row[column]) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    for line in [list(columns), *cells]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    print(f"{len(rows)} positions")


def _cell(value: object) -> str:
    if value is None:
        return ""
    return f"{value:.10g}" if isinstance(value, float) else str(value)


def status(args: argparse.Namespace, settings: Settings) -> int:
    """Print the running service's status (its /status); 1 when no service answers."""
    http = settings.http
    if http.port == 0:
        raise RuntimeFailure("the status endpoint is off (http.port = 0): set http.port to ask the service")
    host = "127.0.0.1" if http.host in ("0.0.0.0", "::") else http.host
    url = f"http://{host}:{http.port}/status"
    try:
        with urllib.request.urlopen(url, timeout=STATUS_TIMEOUT_S) as reply:
            body = reply.read()
    except urllib.error.HTTPError as error:
        raise RuntimeFailure(
            f"the service at {url} answered {error.code}: {error.read().decode()}"
        ) from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise RuntimeFailure(
            f"no possync service answers at {url} ({reason}): is `python run.py` running with this config?"
        ) from error
    if args.json:
        print(msgspec.json.format(body, indent=2).decode())
        return 0
    document = msgspec.json.decode(body, type=ServiceStatus)
    print(summary(document))
    for reason in document.degraded:
        print(f"degraded: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
