"""Black-Scholes prices and greeks of European options, the model behind the simulator's option prices.

Pure functions, no state. Conventions are those of IB's option computations (tickOptionComputation):
`vega` is the price change for one point (1%) of volatility, `theta` the price change over one calendar
day, `delta` and `gamma` per unit of the underlying's price. No dividends: pvDividend is always 0.
"""

import math
import random
from datetime import date, datetime

import msgspec

RISK_FREE_RATE = 0.045
"""The continuously compounded risk-free rate of every option computation."""

MIN_TICK = 0.01
"""No listed option is marked below one tick, however far out of the money."""
DAYS_PER_YEAR = 365.0
_VOL_RANGE = (0.18, 0.60)
_IV_BOUNDS = (1e-4, 5.0)


class Greeks(msgspec.Struct, frozen=True, kw_only=True):
    """An option's model price and sensitivities at one volatility (`implied_vol`) and underlying price."""

    price: float
    delta: float
    gamma: float
    vega: float
    theta: float
    implied_vol: float
    underlying: float


def norm_cdf(x: float) -> float:
    """The standard normal cumulative distribution."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def norm_pdf(x: float) -> float:
    """The standard normal density."""
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def black_scholes(
    spot: float, strike: float, years: float, vol: float, right: str, rate: float = RISK_FREE_RATE
) -> Greeks:
    """Price and greeks of a European call (`right` "C") or put ("P"); at expiry, its intrinsic value."""
    if years <= 0.0 or vol <= 0.0:
        return _expired(spot, strike, right, vol)
    root_t = math.sqrt(years)
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * years) / (vol * root_t)
    d2 = d1 - vol * root_t
    discount = math.exp(-rate * years)
    density = norm_pdf(d1)
    if right == "C":
        price = spot * norm_cdf(d1) - strike * discount * norm_cdf(d2)
        delta = norm_cdf(d1)
        carry = -rate * strike * discount * norm_cdf(d2)
    else:
        price = strike * discount * norm_cdf(-d2) - spot * norm_cdf(-d1)
        delta = norm_cdf(d1) - 1.0
        carry = rate * strike * discount * norm_cdf(-d2)
    theta_year = -spot * density * vol / (2.0 * root_t) + carry
    return Greeks(
        price=price,
        delta=delta,
        gamma=density / (spot * vol * root_t),
        vega=spot * density * root_t / 100.0,
        theta=theta_year / DAYS_PER_YEAR,
        implied_vol=vol,
        underlying=spot,
    )


def _expired(spot: float, strike: float, right: str, vol: float) -> Greeks:
    """An option with no time left: worth its intrinsic value, delta 1/-1 in the money, else 0."""
    in_the_money = spot > strike if right == "C" else spot < strike
    sign = 1.0 if right == "C" else -1.0
    return Greeks(
        price=max(sign * (spot - strike), 0.0),
        delta=sign if in_the_money else 0.0,
        gamma=0.0,
        vega=0.0,
        theta=0.0,
        implied_vol=vol,
        underlying=spot,
    )


def implied_volatility(
    price: float, spot: float, strike: float, years: float, right: str, rate: float = RISK_FREE_RATE
) -> float | None:
    """The volatility at which the model gives `price`; None when no volatility does (below intrinsic)."""
    low, high = _IV_BOUNDS
    if years <= 0.0 or not _model(spot, strike, years, low, right, rate) < price:
        return None
    if _model(spot, strike, years, high, right, rate) < price:
        return None
    for _ in range(100):  # bisection: the price rises monotonically with volatility
        middle = 0.5 * (low + high)
        if _model(spot, strike, years, middle, right, rate) < price:
            low = middle
        else:
            high = middle
        if high - low < 1e-9:
            break
    return 0.5 * (low + high)


def _model(spot: float, strike: float, years: float, vol: float, right: str, rate: float) -> float:
    """The model price alone."""
    return black_scholes(spot, strike, years, vol, right, rate).price


def mark_price(model_price: float) -> float:
    """The price an option is marked at from its model price: 4 decimals, at least one tick."""
    return max(round(model_price, 4), MIN_TICK)


def volatility(seed: int, conid: int) -> float:
    """The model volatility of one option: drawn from the seed and the conid, the same on every run."""
    return round(random.Random(seed * 1_000_003 + conid).uniform(*_VOL_RANGE), 4)


def years_to_expiry(expiry: str, as_of: date) -> float:
    """Years (of 365 days) from `as_of` to an expiry `YYYYMMDD`; 0 on or after the expiry date."""
    expires = datetime.strptime(expiry[:8], "%Y%m%d").date()
    return max((expires - as_of).days, 0) / DAYS_PER_YEAR
