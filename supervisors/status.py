"""Introspection: the state of every child of a tree, as a nested snapshot of frozen Structs."""

from enum import StrEnum

import msgspec


class ChildState(StrEnum):
    """Where a child stands in its supervisor."""

    RUNNING = "running"
    RESTARTING = "restarting"  # down, a restart pending (backoff, group restart, parked supervisor)
    STOPPED = "stopped"  # down for good (restart type or decider said so)
    PARKED = "parked"  # a supervisor child that has parked its own children


class ChildStatus(msgspec.Struct, frozen=True):
    """One node of the tree snapshot; `children` is filled for supervisors."""

    name: str
    state: ChildState
    incarnation: int
    restarts: int
    children: tuple["ChildStatus", ...] = ()


class TreeState(StrEnum):
    """The life of a SupervisionTree."""

    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    PARKED = "parked"  # the root exceeded its intensity and parked its children; it retries
    FAILED = "failed"  # the root exited on its own (escalated): everything is stopped; see `tree.failure`
    STOPPING = "stopping"
    STOPPED = "stopped"
