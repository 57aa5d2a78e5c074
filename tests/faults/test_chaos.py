"""The chaos runner in the suite: a short run with a fresh seed every time (printed, to replay a failure with
`python -m tests.faults.chaos --seed N`), and the full five-minute run at 100 streams, which only runs when
asked for (`POSSYNC_CHAOS_FULL=1`, see tests/faults/README.md)."""

import os
import random

import pytest

from tests.faults.chaos import Chaos, Options


def run(options: Options) -> None:
    summary = Chaos(options).run()
    print(f"seed={options.seed}\n{summary.table()}")
    assert summary.ok, f"seed={options.seed}\n{summary.table()}"
    assert sum(summary.faults.values()) >= options.duration_s / options.fault_every_s / 2
    assert summary.check is not None and summary.check.acknowledged > 0


@pytest.mark.timeout(150)
def test_a_short_chaos_run_keeps_every_invariant() -> None:
    run(Options(duration_s=20.0, seed=random.randrange(2**32), streams=20, tick_hz=4.0, fault_every_s=1.5))


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(
    not os.environ.get("POSSYNC_CHAOS_FULL"), reason="the full chaos run: POSSYNC_CHAOS_FULL=1"
)
def test_five_minutes_of_chaos_at_100_streams_keeps_every_invariant() -> None:
    seed = int(os.environ.get("POSSYNC_CHAOS_SEED", random.randrange(2**32)))
    run(Options(duration_s=300.0, seed=seed, streams=100, tick_hz=4.0, fault_every_s=3.0))
