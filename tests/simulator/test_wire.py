"""Framing: what goes out is what the TWS API expects, and garbage coming in is recognised as such."""

import asyncio
import struct
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from possync.simulator.wire import (
    GREETING,
    MAX_FRAME,
    WireError,
    encode_field,
    frame,
    frame_text,
    read_greeting,
    read_message,
)

T = TypeVar("T")


def _read(read: Callable[[asyncio.StreamReader], Awaitable[T]], data: bytes) -> T:
    """Run `read` on a stream that received `data` then EOF, on a private loop (the main thread's
    loop belongs to ib_insync and must stay set)."""

    async def run() -> T:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await read(reader)

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(run())
    finally:
        loop.close()


def test_every_field_is_nul_terminated_behind_a_big_endian_length() -> None:
    data = frame(61, 3, "DU1", 265598, 1.5, True, False, None)
    payload = b"61\x003\x00DU1\x00265598\x001.5\x001\x000\x00\x00"
    assert data == struct.pack(">I", len(payload)) + payload


def test_fields_are_written_as_the_tws_api_writes_them() -> None:
    assert [encode_field(v) for v in (None, True, False, 7, 2.5, float("inf"), "x")] == [
        "",
        "1",
        "0",
        "7",
        "2.5",
        "Infinite",
        "x",
    ]


def test_a_framed_message_reads_back_as_its_fields() -> None:
    fields = _read(read_message, frame(1, 11, "", "AAPL"))
    assert fields == ["1", "11", "", "AAPL"]


def test_the_greeting_yields_the_client_version_range() -> None:
    assert _read(read_greeting, GREETING + frame_text("v157..176")) == (157, 176)
    assert _read(read_greeting, GREETING + frame_text("v157..176 +PACEAPI")) == (157, 176)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", "API greeting"),
        (GREETING + frame_text("hello"), "version range"),
        (GREETING + struct.pack(">I", MAX_FRAME + 1), "frame length"),
        (GREETING + struct.pack(">I", 0), "frame length"),
    ],
)
def test_a_bad_greeting_is_a_wire_error_naming_the_problem(data: bytes, problem: str) -> None:
    with pytest.raises(WireError, match=problem):
        _read(read_greeting, data)


@pytest.mark.parametrize(
    ("payload", "problem"),
    [(b"\xff\xfe\x00", "not UTF-8"), (b"61\x001", "NUL terminator")],
)
def test_a_bad_message_is_a_wire_error_naming_the_problem(payload: bytes, problem: str) -> None:
    with pytest.raises(WireError, match=problem):
        _read(read_message, struct.pack(">I", len(payload)) + payload)


def test_a_message_cut_short_is_an_incomplete_read() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        _read(read_message, struct.pack(">I", 10) + b"61\x00")
