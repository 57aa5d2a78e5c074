"""A simulated IB Gateway speaking the real TWS wire protocol over loopback."""

from loguru import logger

logger.disable(__name__)

from possync.simulator.config import SimulatorConfig  # noqa: E402
from possync.simulator.portfolio import DemoPosition  # noqa: E402
from possync.simulator.server import Simulator  # noqa: E402
from possync.simulator.stats import SimulatorStats  # noqa: E402

__all__ = ["DemoPosition", "Simulator", "SimulatorConfig", "SimulatorStats"]
