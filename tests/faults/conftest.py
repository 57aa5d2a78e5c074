"""Fixtures of the fault suite: a simulated gateway with fast ticks, the rig's clean-up on failure, and
`warnings_logged` (the warnings our actors log, shared with the storage tests)."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from possync.simulator import Simulator
from tests.faults.rig import Rig

POSITIONS = 30


@pytest.fixture
def sim(simulator_factory: Callable[..., Simulator]) -> Simulator:
    """A simulated gateway: 30 positions, 20 ticks/s per line, admin endpoint on."""
    return simulator_factory(positions=POSITIONS)


@pytest.fixture
def rig_factory(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """Start rigs (`Rig.start(sim, tmp_path, ...)`); any still running after the test is stopped."""
    rigs: list[Rig] = []

    def start(sim: Simulator, **kwargs: object) -> Rig:
        rig = Rig.start(sim, tmp_path, **kwargs)  # type: ignore[arg-type]
        rigs.append(rig)
        return rig

    yield start
    for rig in rigs:
        rig.service.tree.faults.clear()
        rig.service.stop()
