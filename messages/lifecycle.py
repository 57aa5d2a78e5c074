"""Messages of the session's lifecycle (#14): account subscriptions asked for again after 1101/1102, contracts
described by conid (activation by conid alone; trading hours), and active conids the gateway does not know."""

from typing import Any

import msgspec

from possync.messages.domain import Contract


class AccountDataRestored(msgspec.Struct, frozen=True):
    """Session → connection: the positions subscription (and, after 1101, the account updates) asked for
    again; `error` is "" once the gateway answered each (positionEnd, accountDownloadEnd), else why not."""

    data_lost: bool
    positions: int
    accounts: tuple[str, ...]
    error: str = ""


class TradingHours(msgspec.Struct, frozen=True):
    """A contract's sessions as the gateway describes them (contract details), in its time zone: `trading`
    and `liquid` are IB's `YYYYMMDD:HHMM-YYYYMMDD:HHMM;YYYYMMDD:CLOSED;...` lists."""

    time_zone: str
    trading: str
    liquid: str = ""
    clock_offset_s: float = 0.0
    """The gateway's clock minus ours when described (its hours are in its time)."""


class DescribeContract(msgspec.Struct, frozen=True):
    """Registry or stream → connection: describe `conid` (contract details, paced, cached for a day);
    answered with `ContractDescribed` to `reply_to`."""

    conid: int
    reply_to: Any


class ContractDescribed(msgspec.Struct, frozen=True):
    """Connection → the asker: `conid`'s contract and trading hours; or, without a contract, the gateway's
    refusal (`code` 200: it does not know the conid, a permanent answer) or why no answer came."""

    conid: int
    contract: Contract | None
    hours: TradingHours | None = None
    code: int = 0
    error: str = ""


class ParkedContract(msgspec.Struct, frozen=True):
    """An active conid the gateway does not know: parked with the gateway's words until the registry
    changes for it."""

    conid: int
    strategy_id: str
    reason: str


class GetParkedContracts(msgspec.Struct, frozen=True):
    """Status report → registry (ask): the parked active conids; answered with a tuple of `ParkedContract`."""


class FlushLogs(msgspec.Struct, frozen=True):
    """Timer → connection: a burst of refusals has gone quiet; log its count."""
