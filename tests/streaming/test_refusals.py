"""What a refusal calls for, the competing session's backoff, and the one log line per burst."""

from possync.actors.streaming._refusals import Refusal, backoff_s, refusal


def test_only_200_and_321_are_permanent() -> None:
    assert refusal(101) is Refusal.LINE
    assert refusal(200) is refusal(321) is Refusal.PERMANENT
    assert refusal(10197) is Refusal.COMPETING
    assert {refusal(code) for code in (354, 10089, 10168, 322)} == {Refusal.RETRY}


def test_the_competing_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_s(n, 5.0, 30.0) for n in range(1, 6)] == [5.0, 10.0, 20.0, 30.0, 30.0]
