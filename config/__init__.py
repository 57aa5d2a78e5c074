"""Typed settings: config/default.toml, then POSSYNC_<SECTION>_<KEY> environment overrides."""

from possync.config.loader import ConfigError, load_settings
from possync.config.settings import (
    HttpSettings,
    IbSettings,
    InvalidSetting,
    LakeSettings,
    LogSettings,
    PollerSettings,
    Settings,
    SlotSettings,
    SupervisionSettings,
)

__all__ = [
    "ConfigError",
    "HttpSettings",
    "IbSettings",
    "InvalidSetting",
    "LakeSettings",
    "LogSettings",
    "PollerSettings",
    "Settings",
    "SlotSettings",
    "SupervisionSettings",
    "load_settings",
]
