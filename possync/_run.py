"""`python run.py` (and `possync`) without a command: run the service, or the `--sim` demo, until a signal.

The demo starts a simulated gateway in this process, keeps its lake under `./lake-sim` and activates a few
of its positions, so a new user sees streams, polling and the lake at work with no gateway of their own.
"""

import argparse
import signal
import sys
import threading
import time

import msgspec
from loguru import logger

from possync._errors import RuntimeFailure
from possync._service import Service
from possync.actors.gateway import load_client
from possync.actors.service import LiveStatus, Terminal, configure_logging, summary
from possync.config import Settings
from possync.messages.domain import Contract
from possync.simulator import DemoPosition, Simulator, SimulatorConfig
from possync.supervisors import TreeStartError

WAIT_STEP_S = 0.2

SIM_LAKE = "lake-sim"
"""Where `--sim` keeps its lake (and its queue state, under `_state/`), relative to the working directory."""
SIM = SimulatorConfig.demo(positions=300, max_lines=100, tick_hz=4.0, seed=7, admin_port=0)
"""The demo gateway: a seeded portfolio of 300 positions, a 100-line limit, an admin endpoint for faults."""
SIM_ACTIVE = 30
"""How many of the demo positions `--sim` activates (strategy `demo`, priorities 1 to 5)."""


# --- running the service ---


def run_service(args: argparse.Namespace, settings: Settings) -> int:
    """Run until SIGINT/SIGTERM (or `--duration`), then stop cleanly; 1 if the service gave up."""
    if args.log_level:
        settings = msgspec.structs.replace(
            settings, log=msgspec.structs.replace(settings.log, level=args.log_level)
        )
    terminal = Terminal(sys.stderr) if sys.stderr.isatty() else None
    if terminal is not None:
        sys.stderr = terminal  # type: ignore[assignment]  # the log goes above the status line
    configure_logging(settings.log)
    load_client(settings.ib.client)  # the IB client library: imported in the main thread, before any thread
    stop = _stop_on_signals()
    simulator = None
    try:
        if simulator_wanted := getattr(args, "sim", False):
            simulator, settings = _start_simulator(settings)
        service = _start_service(settings, fallback_port=simulator_wanted)
        if simulator is not None:
            _activate_demo(service, simulator)
        return _serve(service, stop, args.duration, LiveStatus(service.status, terminal))
    finally:
        if simulator is not None:
            simulator.stop()
        sys.stderr = sys.__stderr__


def _serve(service: Service, stop: threading.Event, duration_s: float | None, live: LiveStatus) -> int:
    """Wait for a stop signal, the end of `duration_s`, or the tree giving up; then stop everything."""
    ends = time.monotonic() + duration_s if duration_s is not None else float("inf")
    live.start()
    try:
        while not stop.wait(WAIT_STEP_S) and service.running and time.monotonic() < ends:
            pass
    finally:
        live.stop()
        failure = service.tree.failure
        if failure is None:
            logger.info("stopping: {}", summary(service.status()))
        service.stop()
    if failure is not None:
        logger.error("possync gave up: {}", failure)
        return 1
    logger.info("stopped cleanly")
    return 0


def _start_service(settings: Settings, fallback_port: bool) -> Service:
    """Start the service; with `fallback_port`, a taken HTTP port is replaced by a free one (said clearly)."""
    http = settings.http
    try:
        service = Service(settings).start()
    except OSError as error:
        if not fallback_port:
            raise RuntimeFailure(
                f"cannot serve the status endpoint on {http.host}:{http.port} ({error.strerror}): is another "
                "possync running? Set http.port (POSSYNC_HTTP_PORT) to a free port, or 0 to turn it off"
            ) from error
        service = Service(settings, http_port=0).start()
        logger.warning(
            "http.port {} is taken: the status endpoint uses port {}", http.port, service.http_port
        )
    except TreeStartError as error:
        raise RuntimeFailure(str(error)) from error
    ib = settings.ib
    where = f"http://{http.host}:{service.http_port}/status" if service.http_port else "no status endpoint"
    logger.info("possync running: gateway {}:{}, lake {}, {}", ib.host, ib.port, settings.lake.root, where)
    return service


def _stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM."""
    stop = threading.Event()

    def on_signal(number: int, _frame: object) -> None:
        logger.info("{} received", signal.Signals(number).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


# --- the demo ---


def demo_settings(settings: Settings) -> Settings:
    """`settings` with the demo's lake and queue state under `SIM_LAKE` (every command, with --sim), and a
    poller batch that refreshes the whole demo portfolio in one cycle: a short demo shows every position."""
    replace = msgspec.structs.replace
    return replace(
        settings,
        lake=replace(settings.lake, root=SIM_LAKE),
        queue=replace(settings.queue, state_file=f"{SIM_LAKE}/_state/queue.msgpack"),
        poller=replace(settings.poller, batch_size=max(settings.poller.batch_size, SIM.positions)),
    )


def _start_simulator(settings: Settings) -> tuple[Simulator, Settings]:
    """Start the demo gateway on a free loopback port; the settings to run the service against it."""
    simulator = Simulator(SIM)
    port = simulator.start()
    ib = msgspec.structs.replace(settings.ib, host="127.0.0.1", port=port, account="")
    settings = msgspec.structs.replace(settings, ib=ib)
    logger.info(
        "simulated gateway on 127.0.0.1:{}: {} positions, {} lines; faults via http://127.0.0.1:{}/stats",
        port,
        SIM.positions,
        SIM.max_lines,
        simulator.admin_port,
    )
    return simulator, settings


def demo_contract(position: DemoPosition) -> Contract:
    """The contract of one of the simulator's positions."""
    return Contract(
        position.conid,
        position.symbol,
        position.sec_type,
        position.expiry,
        position.strike,
        position.right,
        position.currency,
        multiplier=position.multiplier,
    )


def _activate_demo(service: Service, simulator: Simulator) -> None:
    """Activate the first `SIM_ACTIVE` demo positions through the registry."""
    for index, position in enumerate(simulator.positions()[:SIM_ACTIVE]):
        service.activate(position.conid, "demo", priority=index % 5 + 1, contract=demo_contract(position))
    logger.info("demo: {} contracts active (strategy 'demo')", SIM_ACTIVE)
