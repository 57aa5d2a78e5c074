"""Logging for the application (`possync._run`, the CLI's service command): loguru sinks from `LogSettings`.

Libraries never call this; an embedding program may (see `possync.Service`).

Enables the loggers of possync's packages (each package disables its own on import), writes human-readable
lines or one JSON object per line to stderr, and routes the standard `logging` records of third-party
libraries into the same sink at WARNING and above, less the lines about failures the service reports
once in its own words (and quietly on retries): pykka's tracebacks of a gateway not reachable or lost
(ConnectionError), of a supervisor whose child failed to start (StartFailure: the child's own traceback
is kept) and of injected faults, and the IB client library's lines about a failed or lost connection.
Any other crash keeps its traceback.
"""

import logging
import sys

from loguru import logger

from possync.config.settings import LogSettings
from possync.supervisors import InjectedFault, StartFailure

PACKAGES = ("possync",)
_IB_CONNECT_FAILURES = ("API connection failed", "Make sure API port", "Peer closed connection")


class _ReportedFailure(logging.Filter):
    """Drops a third-party record about a failure the service reports itself (module docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a record about such a failure."""
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ConnectionError | StartFailure | InjectedFault):
            return False
        return not record.getMessage().startswith(_IB_CONNECT_FAILURES)


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
    to_loguru = _ToLoguru()
    to_loguru.addFilter(_ReportedFailure())
    logging.basicConfig(handlers=[to_loguru], level=logging.WARNING, force=True)
