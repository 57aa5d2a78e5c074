"""`python -m possync.simulator` (`python -m simulator` in a clone): a simulated IB Gateway on 127.0.0.1
until SIGINT or SIGTERM."""

import argparse
import signal
import sys

from loguru import logger

from possync.simulator.config import SimulatorConfig
from possync.simulator.server import Simulator

_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, every flag documented in --help."""
    defaults = SimulatorConfig()
    parser = argparse.ArgumentParser(
        prog="python -m possync.simulator",
        description="A simulated IB Gateway speaking the real TWS API wire protocol on 127.0.0.1, with a "
        "loopback admin HTTP endpoint for fault injection (GET /stats, GET /positions, GET /valuations, "
        "POST /drop, POST /error, POST /max-lines, POST /position, POST /pause, POST /resume) and market "
        "data control (GET/POST /entitlements, GET/POST /market, GET/POST /clock, POST /competing-session). "
        "See simulator/README.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=4002, help="API port for ib_insync (0 picks a free one)")
    parser.add_argument("--admin-port", type=int, default=4080, help="admin HTTP port (0 picks a free one)")
    parser.add_argument(
        "--positions", type=int, default=defaults.positions, help="demo positions per account"
    )
    parser.add_argument(
        "--max-lines",
        type=int,
        default=defaults.max_lines,
        help="market-data line limit (past it: error 101)",
    )
    parser.add_argument("--tick-hz", type=float, default=defaults.tick_hz, help="ticks/s per subscription")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of the portfolio and prices")
    parser.add_argument(
        "--accounts", default=",".join(defaults.accounts), help="managed accounts, comma-separated"
    )
    parser.add_argument(
        "--snapshot-hold", type=float, default=defaults.snapshot_hold, help="seconds a snapshot holds a line"
    )
    parser.add_argument(
        "--max-msg-rate", type=int, default=defaults.max_msg_rate, help="client messages/s before error 100"
    )
    _market_data_flags(parser, defaults)
    parser.add_argument(
        "--pnl-interval", type=float, default=defaults.pnl_interval, help="seconds between P&L updates"
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=_LOG_LEVELS,
        help="what to log (case-insensitive)",
    )
    return parser.parse_args(argv)


def _market_data_flags(parser: argparse.ArgumentParser, defaults: SimulatorConfig) -> None:
    """The flags of market data permissions, trading hours and the clock."""
    parser.add_argument(
        "--no-live-data-for",
        default="",
        metavar="SECTYPES",
        help="security types without live permission, comma-separated (e.g. STK,OPT): error 354, or "
        "delayed data to a client in market data type 3/4",
    )
    parser.add_argument(
        "--no-live-fraction",
        type=float,
        default=defaults.no_live_fraction,
        help="share of the other contracts without live permission, drawn per conid from --seed",
    )
    parser.add_argument(
        "--no-delayed",
        action="store_true",
        help="delayed data not enabled: error 10168 instead of delayed data (354 says so too)",
    )
    parser.add_argument(
        "--hours",
        action="store_true",
        help="open and close each market by its trading hours (off: every market is always open)",
    )
    parser.add_argument(
        "--clock-offset-s",
        type=float,
        default=defaults.clock_offset_s,
        help="run the simulator's clock (currentTime, trading hours) this many seconds from the real time",
    )


def config_from(args: argparse.Namespace) -> SimulatorConfig:
    """The SimulatorConfig of the parsed flags (ValueError naming a bad one)."""
    return SimulatorConfig(
        port=args.port,
        admin_port=args.admin_port,
        accounts=tuple(a.strip() for a in args.accounts.split(",") if a.strip()),
        positions=args.positions,
        max_lines=args.max_lines,
        tick_hz=args.tick_hz,
        snapshot_hold=args.snapshot_hold,
        max_msg_rate=args.max_msg_rate,
        pnl_interval=args.pnl_interval,
        seed=args.seed,
        no_live_sec_types=tuple(t.strip().upper() for t in args.no_live_data_for.split(",") if t.strip()),
        no_live_fraction=args.no_live_fraction,
        delayed_data=not args.no_delayed,
        hours=args.hours,
        clock_offset_s=args.clock_offset_s,
    )


def main(argv: list[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM; exit 0 after a clean stop, 2 on a bad flag, 1 if the port is taken."""
    args = parse_args(argv)
    logger.remove()
    logger.add(sys.stderr, level=args.log_level)
    logger.enable("possync.simulator")
    try:
        config = config_from(args)
    except ValueError as exc:
        logger.error("bad option: {}", exc)
        return 2
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)  # the loop thread inherits the mask
    simulator = Simulator(config)
    try:
        simulator.start()
    except OSError as exc:
        logger.error("{}", exc)
        return 1
    logger.info(
        "{} accounts x {} positions, {} lines, {} ticks/s per line; admin on http://127.0.0.1:{}/stats",
        len(config.accounts),
        config.positions,
        config.max_lines,
        config.tick_hz,
        simulator.admin_port,
    )
    received = signal.sigwait(stop_signals)
    logger.info("{} received: stopping", signal.Signals(received).name)
    simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
