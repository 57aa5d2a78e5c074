"""Messages of the P&L channel: the PnlActor takes the changed P&L values from the connection and writes them.

The connection keeps one reqPnLSingle subscription per held (account, conid), up to `pnl.max_subscriptions`;
the client updates each about once a second. The PnlActor asks for the changed ones every
`pnl.write_interval_s` and hands them to the lake writer in one message (source `pnl`).
"""

import msgspec


class PnlTick(msgspec.Struct, frozen=True):
    """PnlActor's timer → PnlActor: take the changed P&L values and write them."""


class TakePnlRows(msgspec.Struct, frozen=True):
    """PnlActor → connection (ask): the observations of the P&L values changed since the last ask."""


class GetPnlStats(msgspec.Struct, frozen=True):
    """Anyone → PnlActor (ask): its `PnlStats`."""


class PnlStats(msgspec.Struct, frozen=True):
    """PnlActor → asker: its counters since it started (rows handed to the lake writer, in how many
    messages, and asks the connection did not answer)."""

    rows: int = 0
    writes: int = 0
    unanswered: int = 0
