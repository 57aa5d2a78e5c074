"""Every msgspec Struct that crosses an actor boundary or reaches the lake."""

from possync.messages.domain import Contract, Observation, Source, utc_now

__all__ = ["Contract", "Observation", "Source", "utc_now"]
