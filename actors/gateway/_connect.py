"""Connecting an `IB` to the gateway: read-only, trying the next client id while one is in use (326).

Runs in the session's loop thread. A gateway that is not there (or does not complete the API handshake)
is one clear `GatewayUnreachable` saying where it was tried and what to check.
"""

import asyncio
from typing import Any

from loguru import logger

CLIENT_ID_IN_USE = 326


class GatewayUnreachable(ConnectionError):
    """No API connection to the gateway could be made; the message says where and what to check."""


class ClientIdInUse(ConnectionError):
    """Every client id tried is used by another API client of the gateway (error 326)."""


async def connect(
    ib: Any, host: str, port: int, client_id: int, timeout_s: float, account: str, readonly: bool, tries: int
) -> int:
    """Connect, trying client ids `client_id`, `client_id + 1`, ... (`tries` of them) while in use;
    the client id connected. Raises GatewayUnreachable or ClientIdInUse."""
    for candidate in range(client_id, client_id + tries):
        try:
            await _connect_once(ib, host, port, candidate, timeout_s, account, readonly)
        except ClientIdInUse:
            logger.info("client id {} is in use at {}:{}; trying {}", candidate, host, port, candidate + 1)
            continue
        return candidate
    raise ClientIdInUse(
        f"client ids {client_id}..{client_id + tries - 1} are all in use at {host}:{port}: close the other "
        "API clients or set ib.client_id to a free one"
    )


async def _connect_once(
    ib: Any, host: str, port: int, client_id: int, timeout_s: float, account: str, readonly: bool
) -> None:
    """One connection attempt; a 326 refusal ends it at once instead of after the whole timeout."""
    refused: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_error(req_id: int, code: int, message: str, *_: object) -> None:
        if code == CLIENT_ID_IN_USE and not refused.done():
            refused.set_exception(ClientIdInUse(message))

    ib.errorEvent += on_error
    attempt = asyncio.ensure_future(
        asyncio.wait_for(ib.connectAsync(host, port, client_id, timeout_s, readonly, account), timeout_s)
    )
    try:
        await asyncio.wait({attempt, refused}, return_when=asyncio.FIRST_COMPLETED)
        if refused.done():
            attempt.cancel()
            await asyncio.gather(attempt, return_exceptions=True)
            ib.disconnect()
            refused.result()
        attempt.result()
    except (TimeoutError, OSError) as error:
        if isinstance(error, ClientIdInUse):
            raise
        raise GatewayUnreachable(unreachable(host, port, repr(error))) from error
    finally:
        ib.errorEvent -= on_error
        refused.cancel()


def unreachable(host: str, port: int, detail: str) -> str:
    """One line that says where we tried and what to check."""
    return (
        f"cannot connect to IB Gateway/TWS at {host}:{port} ({detail}): is the Gateway (or TWS) running "
        f"and logged in, is the API enabled (Configure > Settings > API > Enable ActiveX and Socket "
        f"Clients), is {port} its API port, and is {host} allowed (Trusted IPs)?"
    )
