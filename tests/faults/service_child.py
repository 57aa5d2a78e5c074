"""The service in a process of its own, for the SIGKILL scenarios (run by test_process_faults).

    python -m tests.faults.service_child CONFIG ACKS

Runs `possync.Service` with the TOML config CONFIG (its HTTP endpoint serves /status) until SIGTERM, and
appends the identity of every observation the lake writer acknowledges to ACKS, one line per observation,
with one os.write each (a SIGKILL of this process cannot undo a line written; it may cut the last one).
"""

import signal
import sys
import threading
from pathlib import Path

from loguru import logger

from possync import Service
from tests.faults.invariants import Acknowledged


def main() -> int:
    config, acks = Path(sys.argv[1]), Path(sys.argv[2])
    logger.remove()
    logger.add(sys.stderr, level="INFO")
    for name in ("possync",):
        logger.enable(name)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    acknowledged = Acknowledged(acks)
    service = Service(config)
    service.on_observation(acknowledged)
    with service:
        logger.info("service child running")
        stop.wait()
    acknowledged.close()
    logger.info("service child stopped cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
