"""The possync actors: one module per actor (connection, slots, streams, queue, poller, lake writer)."""

from loguru import logger

logger.disable(__name__)
