"""DynamicSupervisor: a one_for_one supervisor whose children are added and removed while it runs.

Ask (or tell) it `StartChild(spec)` (reply: ChildStarted or StartRefused) and `StopChild(name)` (reply:
ChildStopped), or use `tree.start_child(...)` / `tree.stop_child(...)`. A child that will not be
restarted (temporary, transient after a normal exit, or stopped by the decider) is removed and its name
freed. Children added at run time do not survive a restart of the DynamicSupervisor itself: it comes
back with the children of its spec only, and whoever added the others adds them again (a subclass can
do that in its on_start).
"""

from typing import Any, ClassVar

from possync.supervisors.errors import NameTaken
from possync.supervisors.messages import (
    ChildStarted,
    ChildStopped,
    ExitReason,
    StartChild,
    StartRefused,
    StopChild,
)
from possync.supervisors.spec import ChildSpec, Spec, Strategy, SupervisorSpec
from possync.supervisors.supervisor import Supervisor, _Child


class DynamicSupervisor(Supervisor):
    """Supervises children added at run time (see the module docstring)."""

    strategies: ClassVar[frozenset[Strategy]] = frozenset({Strategy.ONE_FOR_ONE})

    def on_receive(self, message: Any) -> Any:
        """Handle StartChild and StopChild (replying), and everything a Supervisor handles."""
        match message:
            case StartChild(spec=spec):
                reply: Any = self._add(spec)
            case StopChild(name=name):
                reply = self._remove(name)
            case _:
                return super().on_receive(message)
        self._publish()
        return reply

    def _on_exit(self, reason: ExitReason) -> None:
        super()._on_exit(reason)
        for name in self._children:
            self.tree.names.unclaim(name, self.name)

    def _add(self, spec: Spec) -> ChildStarted | StartRefused:
        if not isinstance(spec, ChildSpec | SupervisorSpec):
            return StartRefused(repr(spec), "StartChild.spec must be a ChildSpec or a SupervisorSpec")
        if spec.name in self._children:
            return StartRefused(spec.name, f"{spec.name!r} is already a child of {self.name!r}")
        try:
            self.tree.names.claim(spec.name, self.name)
        except NameTaken as error:
            return StartRefused(spec.name, str(error))
        child = self._children[spec.name] = _Child(spec)
        reason = self._start(child)
        if reason is not None or child.current is None or child.current.ref is None:
            self._retire(child)
            return StartRefused(spec.name, str(reason))
        return ChildStarted(spec.name, child.incarnation, child.current.ref)

    def _remove(self, name: str) -> ChildStopped:
        child = self._children.get(name)
        if child is None:
            return ChildStopped(name, found=False)
        self._stop_children([child])
        self._retire(child)
        return ChildStopped(name, found=True)

    def _retire(self, child: _Child) -> None:
        super()._retire(child)
        del self._children[child.name]
        self.tree.names.unclaim(child.name, self.name)
