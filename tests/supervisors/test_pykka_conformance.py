"""pykka's private hooks behave as supervisors/actor.py relies on. If pykka changes, this fails first.

Checked on plain pykka actors (not on SupervisedActor), so that a failure points at pykka itself.
"""

import threading
from importlib.metadata import version
from typing import Any

import pykka
import pykka.messages
import pytest

from tests.helpers import wait_until
from tests.supervisors.support import Boom, Fail


class Probe(pykka.ThreadingActor):
    """Records what pykka's private hooks see, and what holds when its `_actor_loop` returns."""

    use_daemon_thread = True

    def __init__(self, fail_start: BaseException | None = None) -> None:
        super().__init__()
        self.fail_start = fail_start
        self.hooks: list[str] = []
        self.failures: list[type[BaseException] | None] = []
        self.received: list[Any] = []
        self.at_loop_exit: dict[str, bool] = {}
        self.done = threading.Event()

    def _actor_loop(self) -> None:
        try:
            super()._actor_loop()
        except BaseException as error:
            self.hooks.append(f"escaped {type(error).__name__}")
        finally:
            self.at_loop_exit = {
                "registered": self.actor_ref in pykka.ActorRegistry.get_all(),
                "stopped": self.actor_stopped.is_set(),
                "inbox empty": self.actor_inbox.empty(),
            }
            self.done.set()

    def _actor_loop_setup(self) -> None:
        self.hooks.append("setup")
        super()._actor_loop_setup()

    def _actor_loop_running(self) -> None:
        self.hooks.append("running")
        super()._actor_loop_running()

    def _actor_loop_teardown(self) -> None:
        self.hooks.append("teardown")
        super()._actor_loop_teardown()

    def _handle_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        self.failures.append(exception_type)
        super()._handle_failure(exception_type, exception_value, traceback)

    def _handle_receive(self, message: Any) -> Any:
        self.received.append(message)
        return super()._handle_receive(message)

    def on_start(self) -> None:
        if self.fail_start is not None:
            raise self.fail_start

    def on_receive(self, message: Any) -> Any:
        match message:
            case Fail(error=error):
                raise error
            case "stop after reply":
                self._handle_failure(Boom, Boom("from an ask"), None)
                return "replied"
        return "ok"


def finished(actor: Probe) -> Probe:
    assert actor.done.wait(5), "the actor loop did not return"
    return actor


def test_pykka_is_the_pinned_4_5_line() -> None:
    assert version("pykka").startswith("4.5."), "supervisors/actor.py is pinned to pykka 4.5 internals"


def test_a_normal_stop_runs_setup_running_teardown_then_returns_unregistered() -> None:
    ref = Probe.start()
    actor = ref._actor_weakref()
    assert actor is not None
    ref.stop(timeout=5)
    finished(actor)
    assert actor.hooks == ["setup", "running", "teardown"]
    assert isinstance(actor.received[-1], pykka.messages._ActorStop)
    assert actor.at_loop_exit == {"registered": False, "stopped": True, "inbox empty": True}


def test_a_tell_handler_crash_goes_through_handle_failure_and_ends_the_loop() -> None:
    ref = Probe.start()
    actor = ref._actor_weakref()
    assert actor is not None
    ref.tell(Fail(Boom("tell")))
    finished(actor)
    assert actor.failures == [Boom]
    assert actor.at_loop_exit["registered"] is False
    assert actor.at_loop_exit["stopped"] is True


def test_an_ask_handler_crash_is_returned_and_the_actor_keeps_running() -> None:
    ref = Probe.start()
    with pytest.raises(Boom):
        ref.ask(Fail(Boom("ask")), timeout=5)
    assert ref.ask("hello", timeout=5) == "ok"
    ref.stop(timeout=5)


def test_stopping_inside_an_ask_handler_replies_then_ends_the_loop() -> None:
    ref = Probe.start()
    actor = ref._actor_weakref()
    assert actor is not None
    assert ref.ask("stop after reply", timeout=5) == "replied"
    finished(actor)
    assert actor.hooks == ["setup", "running", "teardown"]


def test_an_on_start_failure_goes_through_handle_failure_and_answers_queued_asks() -> None:
    gate = threading.Event()

    class GatedProbe(Probe):
        def on_start(self) -> None:
            gate.wait(5)
            super().on_start()

    ref = GatedProbe.start(fail_start=Boom("start"))
    actor = ref._actor_weakref()
    assert actor is not None
    queued = ref.ask("queued before the failure", block=False)
    gate.set()
    with pytest.raises(pykka.ActorDeadError):
        queued.get(timeout=5)
    finished(actor)
    assert actor.failures == [Boom]
    assert actor.at_loop_exit["registered"] is False


def test_a_base_exception_in_on_start_escapes_the_loop_as_a_zombie() -> None:
    ref = Probe.start(fail_start=SystemExit(1))
    actor = ref._actor_weakref()
    assert actor is not None
    finished(actor)
    assert actor.hooks == ["setup", "escaped SystemExit"]
    assert actor.at_loop_exit["registered"] is True, "pykka now cleans up: simplify SupervisedActor"
    pykka.ActorRegistry.unregister(ref)


def test_the_inbox_comes_from_create_actor_inbox_and_envelopes_carry_reply_to() -> None:
    taken: list[Any] = []

    class Recording(pykka.ThreadingActor):
        use_daemon_thread = True

        @staticmethod
        def _create_actor_inbox() -> Any:
            class Inbox(pykka.ThreadingActor._create_actor_inbox().__class__):  # type: ignore[misc]
                def get(self, block: bool = True, timeout: float | None = None) -> Any:
                    envelope = super().get(block, timeout)
                    taken.append((envelope.message, envelope.reply_to is not None))
                    return envelope

            return Inbox()

        def on_receive(self, message: Any) -> Any:
            return message

    ref = Recording.start()
    ref.tell("told")
    assert ref.ask("asked", timeout=5) == "asked"
    ref.stop(timeout=5)
    wait_until(lambda: len(taken) == 3)
    assert taken[:2] == [("told", False), ("asked", True)]
    assert isinstance(taken[2][0], pykka.messages._ActorStop)
