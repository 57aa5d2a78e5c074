"""Fixtures of the supervision tests: trees on a fake scheduler, and a guard against leaked actors/threads."""

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pykka
import pytest

from possync.supervisors import FakeScheduler, SupervisionTree, SupervisorSpec
from tests.helpers import wait_until
from tests.supervisors.support import Inbox, running


@pytest.fixture(autouse=True)
def leaves_nothing_behind() -> Iterator[None]:
    """Every test must stop what it started: no new pykka actor, no new thread."""
    threads = set(threading.enumerate())
    actors = set(pykka.ActorRegistry.get_all())
    yield
    leaked = set(pykka.ActorRegistry.get_all()) - actors
    assert not leaked, f"actors left running: {leaked}"
    wait_until(lambda: not set(threading.enumerate()) - threads, timeout=5, message="threads left running")


@pytest.fixture
def scheduler() -> FakeScheduler:
    """A fake scheduler: backoff and park timers fire only when the test advances it."""
    return FakeScheduler()


@pytest.fixture
def start_tree(scheduler: FakeScheduler) -> Iterator[Callable[..., SupervisionTree]]:
    """Start a tree on the fake scheduler with seed 7; every tree is stopped after the test."""
    trees: list[SupervisionTree] = []

    def start(spec: SupervisorSpec, **options: Any) -> SupervisionTree:
        options.setdefault("scheduler", scheduler)
        options.setdefault("seed", 7)
        tree = SupervisionTree(spec, **options)
        trees.append(tree)
        return tree.start()

    yield start
    for tree in trees:
        tree.stop()


@pytest.fixture
def watcher() -> Iterator[pykka.ActorRef[Inbox]]:
    """A standalone actor keeping every message it is told (death-watch notices)."""
    with running(Inbox) as ref:
        yield ref
