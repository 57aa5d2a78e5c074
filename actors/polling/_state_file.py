"""The queue's own small state file: every item of the poll queue, saved atomically, loaded on restart.

Saving writes a temporary file, fsyncs it and renames it over the old one, so a reader (or a restart
after a crash or kill -9) sees either the previous or the new state, never a torn one. A file that
cannot be decoded is moved aside (`<name>.corrupt`) and reported: the queue then starts empty and
refills from the gateway's positions instead of refusing to start.
"""

import os
from pathlib import Path

import msgspec
from loguru import logger

from possync.actors.polling._book import ItemState


class QueueStateFile(msgspec.Struct, frozen=True):
    """The file's content: a format version and the items."""

    version: int
    items: list[ItemState]


FORMAT_VERSION = 1
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(QueueStateFile)


def save_queue_state(path: Path, items: list[ItemState]) -> None:
    """Atomically replace the file at `path` with `items` (creating its directory); raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as file:
        file.write(_ENCODER.encode(QueueStateFile(FORMAT_VERSION, items)))
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)


def load_queue_state(path: Path) -> list[ItemState]:
    """The items saved at `path`; [] if there is no file, or if it is unreadable (then it is moved aside)."""
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
    return state.items
