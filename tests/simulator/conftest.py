"""Fixtures of the simulator tests."""

import pytest

from tests.conftest import each_ib_client as _each
from tests.helpers import IB_CLIENTS

each_ib_client = pytest.fixture(autouse=True, params=IB_CLIENTS)(_each)
"""Every test of this folder runs once per IB client library (ib_insync, ib_async)."""
