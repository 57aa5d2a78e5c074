"""possync as a library: run the whole service inside a larger program (the embedding facade).

    from possync import Service

    with Service("config/my.toml") as service:        # or Service(settings), or Service() for the defaults
        service.on_update(print)                       # each streamed observation (the dispatcher's thread)
        service.activate(265598, "momentum", priority=1)
        print(service.status().slots.in_use)
    # stopped: every actor, thread and socket of the service is gone

The service is one isolated supervision tree: its actor names are its own, its metrics registry is its
own, and it never stops a pykka actor it did not start, so two services and the host's own actors live
side by side. It never configures logging: possync's loggers are disabled until the host enables them
(`loguru.logger.enable("possync")`) or runs `possync.actors.service.configure_logging(settings.log)`.
It does touch one process-wide thing: every `memory.trim_interval_s` it asks glibc to give freed heap
pages back to the OS (`malloc_trim`; 0 turns it off), which changes nothing but the process's RSS.
"""

from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import pykka

from possync.actors.gateway import OutageLog, load_client
from possync.actors.names import REGISTRY
from possync.actors.service import (
    History,
    MemoryTrim,
    StatusEndpoint,
    StatusReport,
    fault_handler,
    metrics_registry,
    render,
)
from possync.actors.streaming import StreamHandlers
from possync.actors.tree import app_spec
from possync.config import Settings, load_settings
from possync.messages.domain import Contract, Observation
from possync.messages.registry import Activate, ChangeAccepted, Deactivate
from possync.messages.routing import DEFAULT_PRIORITY
from possync.messages.status import ServiceStatus
from possync.supervisors import SupervisionTree, TreeState

__all__ = ["ChangeRefusedError", "Service"]

CHANGE_TIMEOUT_S = 10.0
"""How long `activate` / `deactivate` wait for the registry (it waits for the lake writer's journal)."""

STOP_TIMEOUT_S = 30.0
"""The default deadline of `stop()`."""


class ChangeRefusedError(RuntimeError):
    """The registry did not make an activation or deactivation; the message says why and what to do."""


class Service:
    """The whole possync tree in this process (see the module docstring).

    `settings`: a `Settings`, a path to a TOML config, or None for `config/default.toml` (both with
    `POSSYNC_<SECTION>_<KEY>` environment overrides). `http_port`: None serves /health, /status and
    /metrics on `http.port` of the settings (0 there: no endpoint); a number serves there instead, 0
    picking a free port (see `http_port` after `start()`). `faults`: None follows `http.faults`; True
    also serves `POST /faults` (fault injection, see `possync.actors.service.fault_handler`). A bad
    config raises `possync.config.ConfigError`.
    """

    def __init__(
        self,
        settings: Settings | str | Path | None = None,
        *,
        http_port: int | None = None,
        faults: bool | None = None,
    ) -> None:
        self.settings = settings if isinstance(settings, Settings) else load_settings(settings)
        load_client(self.settings.ib.client)  # the IB client library, imported here: in the caller's thread
        self._updates = StreamHandlers()
        self._observations = StreamHandlers()
        self._port = self.settings.http.port if http_port is None else http_port
        self._serve = http_port is not None or self.settings.http.port != 0
        self._faults = self.settings.http.faults if faults is None else faults
        self.tree = SupervisionTree(app_spec(self.settings, self._updates, self._observations, OutageLog()))
        """The supervision tree: `whereis`, `events`, `snapshot()`, `faults` (fault injection), `state`."""
        self._report = StatusReport(self.tree, self.settings)
        self._endpoint: StatusEndpoint | None = None
        self._history: History | None = None
        self._memory: MemoryTrim | None = None

    # --- life ---

    def start(self) -> "Service":
        """Start the tree synchronously and the HTTP endpoint; raise if either cannot start.

        Without a gateway the service still starts: it retries the gateway with backoff and reports
        itself degraded until connected. Raises OSError when the HTTP port is taken (nothing is left
        running) and `supervisors.TreeStartError` when the storage actors cannot start.
        """
        if self._serve:
            registry = metrics_registry(self.status)
            host = self.settings.http.host
            faults = fault_handler(self.tree) if self._faults else None
            self._history = History(self.status)
            self._endpoint = StatusEndpoint(
                host,
                self._port,
                self.status,
                self.health,
                lambda: render(registry),
                faults,
                self._history.document,
            )
        try:
            self.tree.start()
        except BaseException:
            self._stop_endpoint()
            raise
        if self._endpoint is not None and self._history is not None:
            self._endpoint.start()
            self._history.start()
        self._memory = MemoryTrim(self.settings.memory.trim_interval_s)
        self._memory.start()
        return self

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop the HTTP endpoint, then the tree in reverse start order within `timeout_s`; idempotent.

        Buffered rows are committed before the lake writer stops (what cannot be in time stays in its
        journal and is committed by the next start).
        """
        self._stop_endpoint()
        if self._memory is not None:
            self._memory.stop()
            self._memory = None
        self.tree.stop(timeout_s)

    def __enter__(self) -> "Service":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True from `start()` until `stop()`, unless the tree gave up (see `tree.failure`)."""
        return self.tree.state in (TreeState.RUNNING, TreeState.PARKED)

    @property
    def http_port(self) -> int | None:
        """The port of the HTTP endpoint once started, or None when there is none."""
        return self._endpoint.port if self._endpoint is not None else None

    # --- callbacks ---

    def on_update(self, callback: Callable[[Observation], None], inline: bool = False) -> Callable[[], None]:
        """Call `callback(observation)` for each streamed observation; returns the function that removes it.

        Update callbacks run one at a time, in the order the observations were made, in the session's
        update dispatcher: keep them quick (hand work to a queue or an actor of yours). An exception in
        one is logged and skipped. `inline=True`: run it where the observation is made instead (for a
        tick, the gateway's network thread, right after the read): no thread hop, so the least latency,
        but it must never block nor wait on this service, as it holds up every stream meanwhile.
        """
        return self._updates.add(callback, inline=inline)

    def on_observation(self, callback: Callable[[Observation], None]) -> Callable[[], None]:
        """Call `callback(observation)` for every observation the lake accepts (stream, poll, reconcile).

        It runs in the lake writer's thread, which it delays: keep it quick. Returns its remover.
        """
        return self._observations.add(callback)

    # --- the registry ---

    def activate(
        self,
        conid: int,
        strategy_id: str,
        priority: int = DEFAULT_PRIORITY,
        contract: Contract | None = None,
    ) -> None:
        """Make `conid` active for `strategy_id` (1 is the most important priority): it gets a stream.

        Without `contract` its fields come from the positions in the lake, else from the gateway (contract
        details by conid). Raises ChangeRefusedError saying why (e.g. the registry is restarting).
        """
        self._change(Activate(conid, strategy_id, priority, contract))

    def deactivate(self, conid: int) -> None:
        """Make `conid` inactive (its line is freed, it is polled again); ChangeRefusedError if it is not."""
        self._change(Deactivate(conid))

    def _change(self, request: Activate | Deactivate) -> None:
        registry = self.tree.whereis(REGISTRY)
        if registry is None:
            raise ChangeRefusedError(f"the registry is not running (service {self.tree.state}): try again")
        try:
            reply = registry.ask(request, timeout=CHANGE_TIMEOUT_S)
        except (pykka.Timeout, pykka.ActorDeadError) as error:
            raise ChangeRefusedError(f"the registry did not answer ({error!r}): try again") from error
        if not isinstance(reply, ChangeAccepted):
            raise ChangeRefusedError(reply.reason)

    # --- status ---

    def status(self) -> ServiceStatus:
        """The status document (what GET /status serves); `degraded` lists what needs attention."""
        return self._report.status()

    def health(self) -> list[str]:
        """Why the service is degraded (what GET /health reports); empty when it is ok."""
        return self.status().degraded

    def _stop_endpoint(self) -> None:
        if self._history is not None:
            self._history.stop()
            self._history = None
        if self._endpoint is not None:
            self._endpoint.stop()
            self._endpoint = None
