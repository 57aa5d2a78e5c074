"""Messages of the session's lifecycle (#14): account subscriptions asked for again after 1101/1102."""

import msgspec


class AccountDataRestored(msgspec.Struct, frozen=True):
    """Session → connection: the positions subscription (and, after 1101, the account updates) asked for
    again; `error` is "" once the gateway answered each (positionEnd, accountDownloadEnd), else why not."""

    data_lost: bool
    positions: int
    accounts: tuple[str, ...]
    error: str = ""
