"""The queue's own small state file: every item of the poll queue, saved atomically, loaded on restart.

Saving writes a temporary file, fsyncs it and renames it over the old one, so a reader (or a restart
after a crash or kill -9) sees either the previous or the new state, never a torn one. A file that
cannot be decoded is moved aside (`<name>.corrupt`) and reported: the queue then starts empty and
refills from the gateway's positions instead of refusing to start. The file records whose state it is
(`_identity.StateIdentity`): one written for another lake or gateway is moved aside the same way
(`<name>.<UTC time>.mismatch`) with one warning saying why.
"""

import os
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from loguru import logger

from possync.actors.polling._book import ItemState
from possync.actors.polling._identity import StateIdentity, mismatch


class QueueStateFile(msgspec.Struct, frozen=True):
    """The file's content: a format version and the items."""

    version: int
    items: list[ItemState]
    identity: StateIdentity | None = None


FORMAT_VERSION = 1
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(QueueStateFile)


def save_queue_state(path: Path, items: list[ItemState], identity: StateIdentity | None = None) -> None:
    """Atomically replace the file at `path` with `items` of `identity` (creating its directory); OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as file:
        file.write(_ENCODER.encode(QueueStateFile(FORMAT_VERSION, items, identity)))
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)


def load_queue_state(path: Path, identity: StateIdentity | None = None) -> list[ItemState]:
    """The items saved at `path`; [] if there is no file, or if it is unreadable or another lake's or
    gateway's than `identity` (then it is moved aside)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    try:
        state = _DECODER.decode(data)
        if state.version != FORMAT_VERSION:
            raise msgspec.ValidationError(f"format version {state.version}, expected {FORMAT_VERSION}")
    except msgspec.MsgspecError as error:
        aside = path.with_name(path.name + ".corrupt")
        path.replace(aside)
        logger.error("queue state file {} unreadable ({}); moved to {}; starting empty", path, error, aside)
        return []
    why = mismatch(state.identity, identity) if identity is not None else ""
    if why:
        set_aside(path, why)
        return []
    return state.items


def saved_identity(path: Path) -> StateIdentity | None:
    """The identity recorded in the file at `path` (None without a file or an identity)."""
    try:
        return _DECODER.decode(path.read_bytes()).identity
    except (OSError, msgspec.MsgspecError):
        return None


def set_aside(path: Path, why: str) -> Path:
    """Rename the state file at `path` to `<name>.<UTC time>.mismatch` and warn once, saying `why`."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    aside = path.with_name(f"{path.name}.{stamp}.mismatch")
    path.replace(aside)
    logger.warning(
        "queue state file {} is not this service's ({}); moved to {}; rebuilding from the gateway's "
        "positions",
        path,
        why,
        aside,
    )
    return aside
