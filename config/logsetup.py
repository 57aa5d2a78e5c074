"""Logging for the application (run.py): loguru sinks from `LogSettings`; libraries never call this.

Enables the loggers of possync's packages (each package disables its own on import), writes human-readable
lines or one JSON object per line to stderr, and routes the standard `logging` records of third-party
libraries into the same sink at WARNING and above. pykka (a traceback per actor crash) and ib_insync
(a line per failed connect attempt or gateway error) are heard only at DEBUG or TRACE: the supervision
events and the ConnectionActor already report those once, without flooding a log during an outage.
"""

import logging
import sys

from loguru import logger

from config.settings import LogSettings

PACKAGES = ("actors", "messages", "supervisors", "config", "simulator")
CHATTY_LIBRARIES = ("pykka", "ib_insync")


class _ToLoguru(logging.Handler):
    """Forwards a standard-library log record to loguru, keeping its level and origin."""

    def emit(self, record: logging.LogRecord) -> None:
        """Log `record` through loguru under the same level name (or number, for custom levels)."""
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        text = f"{record.name}: {record.getMessage()}"
        logger.opt(exception=record.exc_info).log(level, "{}", text)


def configure_logging(settings: LogSettings) -> None:
    """Send possync's logs (and third-party warnings) to stderr at `settings.level`, as text or JSON lines."""
    logger.remove()
    logger.add(sys.stderr, level=settings.level, serialize=settings.json, backtrace=False, diagnose=False)
    for package in PACKAGES:
        logger.enable(package)
    logging.basicConfig(handlers=[_ToLoguru()], level=logging.WARNING, force=True)
    verbose = logger.level(settings.level).no <= logger.level("DEBUG").no
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING if verbose else logging.CRITICAL)
