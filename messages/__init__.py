"""Every msgspec Struct that crosses an actor boundary or reaches the lake."""

from possync.messages.domain import (
    Contract,
    DataType,
    Greeks,
    Observation,
    Quote,
    Source,
    Tick,
    Value,
    utc_now,
)

__all__ = ["Contract", "DataType", "Greeks", "Observation", "Quote", "Source", "Tick", "Value", "utc_now"]
