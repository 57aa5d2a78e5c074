"""possync's benchmarks: `python -m bench` runs them all (see bench/README.md); never part of the test run."""
