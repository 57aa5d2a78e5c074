"""SupervisedActor: the base of every actor of the service, and ChildContext: what such an actor knows.

Subclasses write ordinary pykka code (`on_start`, `on_receive` with `match` on msgspec Structs,
`on_stop`, `on_failure`) and take the context as their first argument:

    class Worker(SupervisedActor):
        def __init__(self, ctx: ChildContext | None, size: int) -> None:
            super().__init__(ctx)
            ...

Through pykka 4.5's private hooks (pinned: `tests/supervisors/test_pykka_conformance.py` fails if
they change) the base guarantees, on every exit path (normal stop, crash in a tell handler, failure
in on_start, BaseException anywhere, and a crash in an ask handler for classes that set
`crash_on_ask_error = True`), after pykka's own cleanup, in the actor's thread:

1. the incarnation's leases are released (exactly once, see `supervisors.leases`);
2. death-watchers get `Terminated(name, incarnation, reason)`;
3. the supervisor is told `ChildExited(name, incarnation, reason)` (children never ask their supervisor).

A BaseException (SystemExit, KeyboardInterrupt) raised by a handler or on_start ends this actor only,
abnormally: pykka itself would stop every actor of the process or leave a zombie. The tree's fault
hook (`supervisors.faults`) runs before on_start and before each message, and the system `Ping` is
answered once on_start has finished (synchronous start).

Without a context (`ctx=None`) the actor runs standalone: same crash semantics, no supervisor, no
leases, no faults.
"""

import queue
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

import pykka
from loguru import logger
from pykka._envelope import Envelope
from pykka.messages import _ActorStop

from possync.supervisors.errors import InjectedFault
from possync.supervisors.leases import LeaseSet
from possync.supervisors.messages import ChildExited, ExitReason, Ping, Poke

if TYPE_CHECKING:
    from possync.supervisors.tree import SupervisionTree


def tell_quietly(ref: pykka.ActorRef[Any], message: Any) -> None:
    """Tell `message` to `ref`, dropping it if the actor is gone (as pykka drops queued tells on stop)."""
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        logger.debug("dropped {} for dead {}", message, ref)


class ChildContext:
    """What a supervised actor knows: its name, incarnation, tree, leases, and how to tell its supervisor.

    Its supervisor builds one per incarnation and passes it as the actor's first argument.
    `tree` offers `clock`, `scheduler`, `events`, `faults`, `whereis(name)` and `watch(watcher, name)`.
    """

    def __init__(
        self, name: str, incarnation: int, tree: "SupervisionTree", notify_parent: Callable[[Any], None]
    ) -> None:
        self.name = name
        self.incarnation = incarnation
        self.tree = tree
        self.leases = LeaseSet(f"{name}#{incarnation}")
        self._notify_parent = notify_parent
        self._lock = threading.Lock()
        self._reason: ExitReason | None = None
        self._ended = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def reason(self) -> ExitReason | None:
        """Why this incarnation ended (the first reason recorded), or None while it runs."""
        return self._reason

    def end(self, reason: ExitReason) -> ExitReason:
        """Close the incarnation: release its leases and tell its death-watchers, once; return the reason.

        Called by the actor's own exit path, or from outside by a supervisor abandoning it or one whose
        constructor failed. The first reason wins; every call returns only once the leases are released.
        """
        with self._lock:
            if self._reason is None:
                self._reason = reason
                self.leases.release_all()
                self.tree.names.exited(self.name, self.incarnation, reason)
            return self._reason

    def wait_ended(self, timeout_s: float) -> bool:
        """Wait until the actor's thread has run its exit path; False if not within `timeout_s`."""
        if not self._ended.wait(timeout_s):
            return False
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        return True

    def _attach_thread(self) -> None:
        self._thread = threading.current_thread()
        self.tree.track_thread(self._thread)

    def _finish(self, reason: ExitReason) -> None:
        """The actor thread's last act: close the incarnation, then tell the supervisor."""
        try:
            self.end(reason)
            self._notify_parent(ChildExited(self.name, self.incarnation, reason))
        finally:
            self._ended.set()


class _Inbox(queue.Queue[Envelope[Any]]):
    """pykka's inbox, remembering the envelope taken last, to tell an ask from a tell in `_handle_receive`."""

    current: Envelope[Any] | None = None

    def get(self, block: bool = True, timeout: float | None = None) -> Envelope[Any]:
        """Take the next envelope, as queue.Queue.get does, and remember it."""
        self.current = super().get(block, timeout)
        return self.current


class SupervisedActor(pykka.ThreadingActor):
    """Base of every actor of the service: exit notices, leases, death watch, faults (module docstring)."""

    use_daemon_thread = True
    crash_on_ask_error: ClassVar[bool] = False
    """Set True in a subclass to make an exception in an ask handler end the actor (pykka keeps it alive)."""

    def __init__(self, ctx: ChildContext | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self._failure: BaseException | None = None

    @staticmethod
    def _create_actor_inbox() -> _Inbox:
        return _Inbox()

    def _actor_loop(self) -> None:
        if self.ctx is not None:
            self.ctx._attach_thread()
        try:
            super()._actor_loop()
        except BaseException:  # escaped pykka's loop (e.g. from on_failure): end this actor only
            self._handle_failure(*sys.exc_info())
            self._actor_loop_teardown()
        finally:
            self._exit()

    def _actor_loop_setup(self) -> None:
        try:
            if self.ctx is not None:
                self.ctx.tree.faults.before_start(self.ctx.name)
            super()._actor_loop_setup()
        except BaseException:  # pykka leaves a zombie on a BaseException from on_start
            self._handle_failure(*sys.exc_info())

    def _handle_receive(self, message: Any) -> Any:
        if isinstance(message, Ping):
            return True
        try:
            if self.ctx is not None:
                self._before_message(message)
            if isinstance(message, Poke):
                return None
            return super()._handle_receive(message)
        except Exception:
            if self.crash_on_ask_error and self._asked():
                self._crash(sys.exc_info())
            raise
        except BaseException as error:  # pykka would stop every actor of the process: end this one only
            self._crash(sys.exc_info())
            if self._asked():
                raise pykka.ActorDeadError(
                    f"{self} exited on {error!r} while handling this message"
                ) from error
            return None

    def _before_message(self, message: Any) -> None:
        """The fault hook; a crash armed when the stop comes is spent on it and the actor stops as told (a
        failed stop would leave it running, unregistered and unsupervised, once its supervisor gave up)."""
        assert self.ctx is not None
        try:
            self.ctx.tree.faults.before_message(self.ctx.name)
        except InjectedFault:
            if not isinstance(message, _ActorStop):
                raise

    def _handle_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._failure is None:
            self._failure = exception_value
        super()._handle_failure(exception_type, exception_value, traceback)

    def _asked(self) -> bool:
        envelope = self.actor_inbox.current  # type: ignore[attr-defined]  # our _Inbox
        return envelope is not None and envelope.reply_to is not None

    def _crash(self, exc_info: Any) -> None:
        """End the actor on a failure pykka would survive, running on_failure as pykka does for tells."""
        self._handle_failure(*exc_info)
        try:
            self.on_failure(*exc_info)
        except BaseException:  # a failing on_failure must not escape either
            self._handle_failure(*sys.exc_info())

    def _on_exit(self, reason: ExitReason) -> None:
        """Hook run on every exit path, in the actor's thread, before the leases and notices go."""

    def _exit(self) -> None:
        pykka.ActorRegistry.unregister(self.actor_ref)
        self.actor_stopped.set()
        reason = ExitReason(self._failure)
        try:
            self._on_exit(reason)
        except BaseException:  # the leases and the notice must still go out
            logger.exception("exit hook of {} failed", self)
        if self.ctx is not None:
            self.ctx._finish(reason)
