"""A simulated IB Gateway speaking the real TWS wire protocol over loopback."""

from loguru import logger

logger.disable(__name__)
