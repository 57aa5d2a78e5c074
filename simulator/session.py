"""One client connection: the handshake, startApi, then requests until either side hangs up."""

import asyncio
from typing import TYPE_CHECKING

from loguru import logger

from possync.simulator import incoming, outgoing, wire
from possync.simulator.pacing import MessageRate
from possync.simulator.portfolio import DemoPosition
from possync.simulator.protocol import (
    FARM_OK_NOTICES,
    MIN_CLIENT_VERSION,
    NO_REQUEST,
    SERVER_VERSION,
    In,
    error_text,
)
from possync.simulator.requests import handle_request

if TYPE_CHECKING:
    from possync.simulator.gateway import Gateway

MAX_UNSENT = 8 << 20
"""Bytes queued for a client that does not read; past this the client is dropped, not buffered forever."""


class Session:
    """A client of the simulated gateway and what it subscribed to.

    Runs on the gateway's event loop. A client that breaks the protocol is logged and dropped;
    nothing it sends can stop the gateway from serving the others.
    """

    def __init__(
        self, gateway: "Gateway", reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.gateway = gateway
        self.client_id: int | None = None
        self.positions_subscribed = False
        self.account_updates: str | None = None
        self.data_type = 1
        self._reader = reader
        self._writer = writer
        self._peer = writer.get_extra_info("peername")
        self._held: list[bytes] = []
        self._pacing = MessageRate(gateway.config.max_msg_rate)

    def __repr__(self) -> str:
        return f"client {self.client_id} at {self._peer}"

    async def run(self) -> None:
        """Serve this connection to its end; never raises for anything the client does."""
        logger.info("connection from {}", self._peer)
        try:
            if await self._start():
                while True:
                    fields = await wire.read_message(self._reader)
                    self._count(fields)
                    await self.gateway.wait_running()
                    handle_request(self, fields)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            logger.info("{} disconnected ({})", self, type(exc).__name__)
        except (wire.WireError, incoming.BadRequest) as exc:
            self.gateway.counters.bad_clients += 1
            logger.warning("{} broke the protocol, dropping it: {}", self, exc)
        except Exception:
            self.gateway.counters.bad_clients += 1
            logger.exception("{}: request failed, dropping the client", self)
        finally:
            self.close()
            self.gateway.forget(self)

    def send(self, data: bytes) -> None:
        """Queue framed bytes for the client (held back while the gateway is paused)."""
        if self.gateway.paused:
            self._held.append(data)
            return
        transport = self._writer.transport
        if transport.is_closing():
            return
        if transport.get_write_buffer_size() > MAX_UNSENT:
            logger.warning("{} is not reading ({} bytes unsent); dropping it", self, MAX_UNSENT)
            transport.abort()
            return
        transport.write(data)

    def flush_held(self) -> None:
        """Send what was held back during a pause."""
        held, self._held = self._held, []
        if held:
            self.send(b"".join(held))

    def close(self) -> None:
        """Hang up: gracefully when everything sent has left, else at once (never waits on a slow reader)."""
        transport = self._writer.transport
        if transport.get_write_buffer_size():
            transport.abort()
        else:
            transport.close()

    def push_position(self, position: DemoPosition) -> None:
        """Tell this client about a changed position, if it subscribed to positions or that account."""
        contract = self.gateway.portfolio.contract(position.conid)
        assert contract is not None, "a position always refers to a known contract"
        if self.positions_subscribed:
            self.send(outgoing.position(position, contract))
        if self.account_updates == position.account:
            self.send(outgoing.portfolio_value(position, contract, self.gateway.pricing.valuation(position)))

    def error(self, req_id: int, code: int) -> None:
        """Send IB's error `code` for request `req_id`."""
        self.send(outgoing.error(req_id, code, error_text(code)))

    async def _start(self) -> bool:
        """Handshake and startApi; False when the client id is taken (error 326 sent, connection closed)."""
        low, high = await wire.read_greeting(self._reader)
        if not low <= SERVER_VERSION <= high or high < MIN_CLIENT_VERSION:
            raise wire.WireError(f"client versions v{low}..{high} exclude server version {SERVER_VERSION}")
        await self.gateway.wait_running()
        self.send(wire.frame(SERVER_VERSION, self.gateway.access.clock.now().strftime("%Y%m%d %H:%M:%S UTC")))
        fields = await wire.read_message(self._reader)
        self._count(fields)
        if int(fields[0]) != In.START_API:
            raise wire.WireError(f"expected startApi (71) after the handshake, got {fields[:3]}")
        client_id = incoming.integer(fields, 2)
        await self.gateway.wait_running()
        if not self.gateway.register(self, client_id):
            logger.warning("client id {} already in use: refusing {}", client_id, self._peer)
            self.error(NO_REQUEST, 326)
            self.close()
            return False
        self.client_id = client_id
        logger.info("{} started the API", self)
        self.send(outgoing.managed_accounts(self.gateway.accounts))
        self.send(outgoing.next_valid_id(self.gateway.next_order_id()))
        for code in FARM_OK_NOTICES:
            self.error(NO_REQUEST, code)
        return True

    def _count(self, fields: list[str]) -> None:
        """Count a received message by id and check the client's message rate (error 100 above it)."""
        try:
            msg_id = int(fields[0])
        except ValueError:
            raise wire.WireError(f"message id {fields[0][:20]!r} is not a number") from None
        self.gateway.counters.requests[msg_id] += 1
        if not self._pacing.admit():
            self.gateway.counters.pacing_violations += 1
            self.send(outgoing.error(NO_REQUEST, 100, f"{error_text(100)} max={self._pacing.rate}"))
