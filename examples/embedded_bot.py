"""Embedding possync in a larger bot: the whole service inside your process, next to your own actors.

    python examples/embedded_bot.py                          # a simulated gateway, a lake in a temp dir
    python examples/embedded_bot.py --config my.toml --seconds 60 --conid 265598 --conid 8314

(possync installed, e.g. `pip install -e .` as in the quick start.)

The bot's own pykka actor (`PriceBook`) gets every streamed observation: the callback only tells it,
because callbacks run in possync's threads and must be quick. The bot activates the contracts it
trades, reads the service's status, deactivates one, and stops the service with a deadline, leaving
its own actor (and logging) untouched.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pykka

from possync import Service
from possync.actors.service import summary
from possync.config import HttpSettings, IbSettings, LakeSettings, Settings
from possync.config.settings import QueueSettings
from possync.messages.domain import Contract, Observation
from possync.simulator import Simulator, SimulatorConfig

STRATEGY = "example-bot"


class PriceBook(pykka.ThreadingActor):
    """The bot's own actor: the latest streamed price of each contract."""

    use_daemon_thread = True

    def __init__(self) -> None:
        super().__init__()
        self.prices: dict[int, float] = {}

    def on_receive(self, message: Any) -> Any:
        """Record an Observation; answer "prices" with a copy of the book."""
        match message:
            case Observation(contract=contract, market_price=price) if price is not None:
                self.prices[contract.conid] = price
            case "prices":
                return dict(self.prices)
        return None


def simulated(lake_dir: Path) -> tuple[Simulator, Settings, list[Contract]]:
    """A simulated gateway, settings pointing at it (lake under `lake_dir`, no HTTP), five contracts."""
    simulator = Simulator(SimulatorConfig(positions=50, tick_hz=4.0))
    settings = Settings(
        ib=IbSettings(port=simulator.start()),
        lake=LakeSettings(root=str(lake_dir / "lake")),
        queue=QueueSettings(state_file=str(lake_dir / "queue.msgpack")),
        http=HttpSettings(port=0),
    )
    contracts = [
        Contract(p.conid, p.symbol, p.sec_type, p.expiry, p.strike, p.right)
        for p in simulator.positions()[:5]
    ]
    return simulator, settings, contracts


def run_bot(service: Service, contracts: list[Contract], conids: list[int], seconds: float) -> None:
    """Stream the bot's contracts into its PriceBook for `seconds`, then drop one and report."""
    book = PriceBook.start()
    stop_updates = service.on_update(book.tell)
    try:
        for contract in contracts:
            service.activate(contract.conid, STRATEGY, priority=1, contract=contract)
        for conid in conids:
            service.activate(conid, STRATEGY)  # contract fields from the positions in the lake
        wanted = [contract.conid for contract in contracts] + conids
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(book.ask("prices", timeout=5)) < len(wanted):
            time.sleep(0.2)
        print(f"prices streamed: {book.ask('prices', timeout=5)}")
        print(f"status: {summary(service.status())}")
        if wanted:
            service.deactivate(wanted[0])
            print(f"deactivated {wanted[0]}; health: {service.health() or 'ok'}")
    finally:
        stop_updates()  # before the book stops: no update is told to a dead actor
        book.stop()


def main() -> int:
    """Run the example; 0 when the service stopped cleanly."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", help="a possync TOML config (default: a simulated gateway)")
    parser.add_argument("--conid", type=int, action="append", default=[], help="a contract to stream")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to wait for prices")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as lake_dir:
        simulator, settings, contracts = (None, args.config, []) if args.config else simulated(Path(lake_dir))
        try:
            service = Service(settings).start()
            try:
                run_bot(service, contracts, args.conid, args.seconds)
            finally:
                service.stop(timeout_s=15)  # or: `with Service(settings) as service:`
        finally:
            if simulator is not None:
                simulator.stop()
    print("stopped; the bot's own actors and logging were never touched")
    return 0


if __name__ == "__main__":
    sys.exit(main())
