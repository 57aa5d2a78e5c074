"""A tiny demo: start a tree, crash a child through the fault hook, watch it restart, stop cleanly.

python -m supervisors.demo
"""

import threading

import msgspec

from possync.supervisors import (
    Backoff,
    ChildSpec,
    EventKind,
    Strategy,
    SupervisedActor,
    SupervisionEvent,
    SupervisionTree,
    SupervisorSpec,
)


class Tick(msgspec.Struct, frozen=True):
    """A message the demo workers accept."""


class Worker(SupervisedActor):
    """A worker with nothing to do: the fault hook crashes it on its next message."""


def main() -> int:
    """Run the demo; 0 once the crashed child and the one started after it are back and the tree stopped."""
    spec = SupervisorSpec(
        "demo",
        children=(ChildSpec("connection", Worker), ChildSpec("streams", Worker)),
        strategy=Strategy.REST_FOR_ONE,
        intensity=3,
        backoff=Backoff(min_s=0.05, max_s=1.0),
    )
    tree = SupervisionTree(spec, seed=42)
    recovered = threading.Event()

    def show(event: SupervisionEvent) -> None:
        """Print an event; note when the child after the crashed one is back."""
        delay = f" after {event.delay_s:.3f}s" if event.delay_s else ""
        print(f"{event.kind:<11} {event.supervisor}/{event.child}#{event.incarnation}{delay} {event.reason}")
        if event.kind is EventKind.STARTED and (event.child, event.incarnation) == ("streams", 2):
            recovered.set()

    tree.events.subscribe(show)
    with tree:
        tree.faults.crash_next("connection")
        tree.whereis("connection").tell(Tick())
        ok = recovered.wait(timeout=10)
    print(f"tree {tree.state}: {'recovered' if ok else 'did NOT recover'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
