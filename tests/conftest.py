"""Suite-wide guards: fail any test in which ib_insync silently dropped a malformed server message."""

import logging

import ib_insync  # noqa: F401  (must first be imported in the main thread)
import pytest


class _FieldErrorCatcher(logging.Handler):
    """Collects ib_insync's `Error handling fields` log lines (a message with a wrong field count)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "Error handling fields" in text:
            self.records.append(text)


@pytest.fixture(autouse=True)
def fail_on_dropped_ib_messages():
    """A server message ib_insync could not parse fails the test instead of timing it out."""
    catcher = _FieldErrorCatcher()
    ib_logger = logging.getLogger("ib_insync")
    ib_logger.addHandler(catcher)
    yield
    ib_logger.removeHandler(catcher)
    assert not catcher.records, f"ib_insync dropped malformed server messages: {catcher.records}"
