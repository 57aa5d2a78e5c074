"""Fixtures of the gateway tests: the streaming tests' harness and log capture, once per IB client."""

import pytest

from tests.conftest import each_ib_client as _each
from tests.helpers import IB_CLIENTS
from tests.streaming.conftest import log_lines, start_harness

each_ib_client = pytest.fixture(autouse=True, params=IB_CLIENTS)(_each)
"""Every test of this folder runs once per IB client library (ib_insync, ib_async)."""

__all__ = ["each_ib_client", "log_lines", "start_harness"]
