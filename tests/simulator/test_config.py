"""Bad simulator settings are refused with a message naming the setting and the fix."""

import pytest

from possync.simulator import SimulatorConfig


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"port": 70000}, "port=70000 .*0..65535"),
        ({"admin_port": -1}, "admin_port=-1"),
        ({"accounts": ()}, "accounts is empty"),
        ({"accounts": ("DU 1",)}, "account 'DU 1'"),
        ({"accounts": ("DU1", "DU1")}, "repeat"),
        ({"positions": -1}, "positions=-1"),
        ({"max_lines": -5}, "max_lines=-5"),
        ({"tick_hz": 0}, "tick_hz=0"),
        ({"snapshot_hold": -1}, "snapshot_hold=-1"),
        ({"max_msg_rate": 0}, "max_msg_rate=0"),
        ({"no_live_sec_types": ("stk",)}, "no_live_sec_types has 'stk'"),
        ({"no_live_fraction": 1.5}, "no_live_fraction=1.5"),
        ({"clock_offset_s": float("nan")}, "clock_offset_s=nan"),
        ({"clock_offset_s": 1e12}, "clock_offset_s=1000000000000.0"),
    ],
)
def test_bad_settings_name_the_setting(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SimulatorConfig(**overrides)  # type: ignore[arg-type]
