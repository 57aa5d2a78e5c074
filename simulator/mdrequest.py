"""Answering reqMktData and reqMarketDataType by the market-data rules in force (see `access`)."""

from typing import TYPE_CHECKING

from loguru import logger

from possync.simulator import outgoing
from possync.simulator.access import DATA_TYPES, FROZEN_TYPES, Refusal
from possync.simulator.instruments import DemoContract
from possync.simulator.protocol import error_text

if TYPE_CHECKING:
    from possync.simulator.session import Session

MAX_TICKERS = 101


def refuse(session: "Session", req_id: int, code: int, text: str | None = None) -> None:
    """Refuse a reqMktData with error `code`: it holds no line and gets nothing else."""
    session.gateway.counters.refusals[code] += 1
    session.send(outgoing.error(req_id, code, text or error_text(code)))


def answer(session: "Session", req_id: int, contract: DemoContract, snapshot: bool) -> None:
    """Serve a reqMktData for a known contract live or delayed, or refuse it (permission, or no line: 101)."""
    gateway = session.gateway
    decision = gateway.access.decide(contract, session.data_type)
    if isinstance(decision, Refusal):
        refuse(session, req_id, decision.code, decision.text)
        logger.info("{}: reqId {} ({}) refused: {}", session, req_id, contract.local_symbol, decision.code)
        return
    warned = b"".join(outgoing.error(req_id, code, text) for code, text in decision.warnings)
    market = gateway.market
    frozen_ok = session.data_type in FROZEN_TYPES
    held = market.subscribe(
        session, req_id, contract, snapshot=snapshot, live=decision.live, frozen_ok=frozen_ok, preamble=warned
    )
    if held:
        gateway.counters.data_warnings.update(code for code, _ in decision.warnings)
        logger.debug("{}: reqId {} holds a line for {}", session, req_id, contract.local_symbol)
    else:
        gateway.counters.refused_101 += 1
        refuse(session, req_id, MAX_TICKERS)
        logger.info("{}: reqId {} refused, all {} lines taken", session, req_id, market.max_lines)


def set_data_type(session: "Session", data_type: int) -> None:
    """reqMarketDataType: the type this client's later reqMktData ask for (an unknown one is ignored)."""
    if data_type not in DATA_TYPES:
        logger.info("{}: ignoring reqMarketDataType({}): not one of 1..4", session, data_type)
        return
    session.data_type = data_type
