"""The health reason of the gateway's temporary refusals: a competing live session (10197) lasts until the
other login lets go of the live data; the streams it silenced wait, without a line, and say so."""

from possync.messages.streams import StreamStatus

COMPETING_SESSION = 10197


def competing_session(streams: list[StreamStatus | None]) -> list[str]:
    """`competing live session ...` while a stream waits for one to end (forgotten once it ticks)."""
    waiting = sorted(s.conid for s in streams if s is not None and s.refusal_code == COMPETING_SESSION)
    if not waiting:
        return []
    return [f"competing live session (10197): {len(waiting)} active streams wait for the live data"]
