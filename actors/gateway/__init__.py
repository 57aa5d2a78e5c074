"""The gateway session: the only package that imports the IB client library (ib_insync or ib_async)."""

from possync.actors.gateway._client import CLIENTS, ClientName, IbClient, load_client
from possync.actors.gateway._connection import ConnectionActor
from possync.actors.gateway._outage_log import OutageLog
from possync.messages.connection import TickSink

__all__ = ["CLIENTS", "ClientName", "ConnectionActor", "IbClient", "OutageLog", "TickSink", "load_client"]
