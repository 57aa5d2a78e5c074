"""An OTP-like supervision library on pykka."""

from loguru import logger

logger.disable(__name__)
