"""TWS API framing: the `API\\0` greeting, 4-byte big-endian length prefixes and NUL-terminated fields."""

import asyncio
import math
import re
import struct

GREETING = b"API\0"
MAX_FRAME = 1 << 20
"""Largest frame accepted from a client; a bigger length prefix is garbage, not a message."""

_LENGTH = struct.Struct(">I")
_VERSION_RANGE = re.compile(r"^v(\d+)\.\.(\d+)(?: .*)?$")

Field = str | int | float | bool | None
"""A value as the wire carries it: None becomes "", bools 1/0, numbers their decimal text."""


class WireError(Exception):
    """The peer sent bytes that are not the TWS API protocol; the connection cannot continue."""


def encode_field(value: Field) -> str:
    """The text of one field as the TWS API writes it."""
    match value:
        case None:
            return ""
        case bool():
            return "1" if value else "0"
        case float() if math.isinf(value):
            return "Infinite"
        case _:
            return str(value)


def frame(*fields: Field) -> bytes:
    """One framed message: the length prefix and every field terminated by NUL, the last one too."""
    payload = "".join(encode_field(f) + "\0" for f in fields).encode()
    return _LENGTH.pack(len(payload)) + payload


def frame_text(text: str) -> bytes:
    """A framed message whose payload is `text` without any terminator (the client's version greeting)."""
    payload = text.encode()
    return _LENGTH.pack(len(payload)) + payload


async def read_payload(reader: asyncio.StreamReader) -> bytes:
    """Read one length-prefixed payload; raise WireError on a length no client would send."""
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    if not 0 < length <= MAX_FRAME:
        raise WireError(f"frame length {length} outside 1..{MAX_FRAME}")
    return await reader.readexactly(length)


def split_fields(payload: bytes) -> list[str]:
    """The fields of a payload; raise WireError unless it is UTF-8 text ending with a NUL terminator."""
    try:
        text = payload.decode()
    except UnicodeDecodeError as exc:
        raise WireError(f"payload is not UTF-8: {exc}") from None
    if not text.endswith("\0"):
        raise WireError(f"payload does not end with a NUL terminator: {text[:40]!r}")
    return text[:-1].split("\0")


async def read_message(reader: asyncio.StreamReader) -> list[str]:
    """Read one framed client message and return its fields."""
    return split_fields(await read_payload(reader))


async def read_greeting(reader: asyncio.StreamReader) -> tuple[int, int]:
    """Read `API\\0` and the framed `vMIN..MAX` version range; return (MIN, MAX) or raise WireError."""
    greeting = await reader.readexactly(len(GREETING))
    if greeting != GREETING:
        raise WireError(f"expected the API greeting {GREETING!r}, got {greeting!r}")
    payload = await read_payload(reader)
    match = _VERSION_RANGE.match(payload.decode(errors="replace"))
    if not match:
        raise WireError(f"expected a version range like b'v157..176', got {payload[:40]!r}")
    return int(match[1]), int(match[2])
