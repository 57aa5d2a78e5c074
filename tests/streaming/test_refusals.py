"""What a refusal calls for, the competing session's backoff, and the one log line per burst."""

from loguru import logger

from possync.actors.gateway._refusal_log import RefusalLog
from possync.actors.streaming._refusals import Refusal, backoff_s, refusal


def test_only_200_and_321_are_permanent() -> None:
    assert refusal(101) is Refusal.LINE
    assert refusal(200) is refusal(321) is Refusal.PERMANENT
    assert refusal(10197) is Refusal.COMPETING
    assert {refusal(code) for code in (354, 10089, 10168, 322)} == {Refusal.RETRY}


def test_the_competing_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_s(n, 5.0, 30.0) for n in range(1, 6)] == [5.0, 10.0, 20.0, 30.0, 30.0]


def test_a_burst_of_refusals_is_one_line_and_then_one_line_with_its_count() -> None:
    now = [0.0]
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(message.record["message"]), level="WARNING")
    logger.enable("possync.actors")
    try:
        log = RefusalLog(window_s=30.0, clock=lambda: now[0])
        for conid in range(40):
            log.refused(10197, "No market data during competing live session", conid)
        assert lines == [
            "gateway refused market data for conid 0: 10197 No market data during competing live session"
        ]
        now[0] = 31.0
        log.refused(10197, "No market data during competing live session", 7)
        assert lines[1] == "gateway refused 39 more market-data requests with 10197 since"
        assert len(lines) == 3
    finally:
        logger.remove(sink)
        logger.disable("possync.actors")
