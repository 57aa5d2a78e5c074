"""The gateway session: the only package that imports the IB client library (ib_insync or ib_async)."""

from possync.actors.gateway._client import CLIENTS, ClientName, IbClient, load_client
from possync.actors.gateway._connection import ConnectionActor
from possync.actors.gateway._market_data import describe_market_data
from possync.actors.gateway._outage_log import OutageLog
from possync.actors.gateway._probe import DATA_TYPES, GatewayProbe, MarketDataProbe, probe_gateway
from possync.messages.connection import TickSink

__all__ = [
    "CLIENTS",
    "DATA_TYPES",
    "ClientName",
    "ConnectionActor",
    "GatewayProbe",
    "IbClient",
    "MarketDataProbe",
    "OutageLog",
    "TickSink",
    "describe_market_data",
    "load_client",
    "probe_gateway",
]
