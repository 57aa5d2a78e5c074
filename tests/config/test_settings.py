"""The settings structs: documented defaults, normalisation and the rules no field type expresses."""

import re
from importlib import resources

import msgspec
import pytest

from possync.config import InvalidSetting, LogSettings, Settings, SupervisionSettings


def test_default_toml_documents_every_key_with_a_comment_above_it():
    lines = (
        resources.files("possync.config").joinpath("default.toml").read_text(encoding="utf-8").splitlines()
    )
    documented, section = set(), ""
    for above, line in zip(["", *lines], lines, strict=False):
        if header := re.fullmatch(r"\[(\w+)\]", line):
            section = header[1]
        elif key := re.match(r"(\w+) =", line):
            assert above.startswith("# "), f"{section}.{key[1]} has no comment"
            documented.add(f"{section}.{key[1]}")
    expected = {
        f"{section.name}.{key.name}"
        for section in msgspec.structs.fields(Settings)
        for key in msgspec.structs.fields(section.type)
    }
    assert documented == expected


@pytest.mark.parametrize("given", ["debug", "Debug", "DEBUG"])
def test_log_level_is_case_insensitive_and_stored_upper_case(given):
    assert LogSettings(level=given).level == "DEBUG"


def test_unknown_log_level_names_the_key_value_and_allowed_levels():
    with pytest.raises(InvalidSetting, match=r"^level = 'loud': must be one of TRACE, DEBUG, .*CRITICAL$"):
        LogSettings(level="loud")


def test_backoff_min_above_max_is_rejected_and_equal_is_accepted():
    with pytest.raises(InvalidSetting, match=r"^backoff_min_s = 31.0: must be <= backoff_max_s \(30.0\)$"):
        SupervisionSettings(backoff_min_s=31.0, backoff_max_s=30.0)
    assert SupervisionSettings(backoff_min_s=30.0, backoff_max_s=30.0).backoff_min_s == 30.0


def test_settings_are_immutable():
    with pytest.raises(AttributeError):
        Settings().ib.port = 4001  # type: ignore[misc]
