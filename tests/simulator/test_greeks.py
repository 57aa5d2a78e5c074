"""The Black-Scholes model behind the simulator's option prices, against textbook values and identities."""

import math
from datetime import date

import pytest

from possync.simulator.greeks import (
    black_scholes,
    implied_volatility,
    mark_price,
    volatility,
    years_to_expiry,
)


def test_hull_example_call_and_put_prices() -> None:
    # Hull, Options, Futures and Other Derivatives: S=42, K=40, r=10%, sigma=20%, T=0.5 -> c=4.76, p=0.81
    assert black_scholes(42, 40, 0.5, 0.2, "C", rate=0.10).price == pytest.approx(4.76, abs=0.005)
    assert black_scholes(42, 40, 0.5, 0.2, "P", rate=0.10).price == pytest.approx(0.81, abs=0.005)


def test_hull_example_greeks_in_ibs_units() -> None:
    # Hull's 20-week call: S=49, K=50, r=5%, sigma=20% -> delta 0.522, gamma 0.066, vega 12.1 per unit of
    # volatility (0.121 per point, IB's unit), theta -4.31 per year (per calendar day: / 365, IB's unit)
    call = black_scholes(49, 50, 20 / 52, 0.2, "C", rate=0.05)
    assert call.price == pytest.approx(2.40, abs=0.005)
    assert call.delta == pytest.approx(0.522, abs=0.0005)
    assert call.gamma == pytest.approx(0.066, abs=0.0005)
    assert call.vega == pytest.approx(0.121, abs=0.0005)
    assert call.theta == pytest.approx(-4.31 / 365, abs=0.0001)


@pytest.mark.parametrize(
    ("spot", "strike", "years", "vol"),
    [(189.5, 190.0, 0.1, 0.25), (50.0, 65.0, 1.5, 0.6), (880.0, 700.0, 0.02, 0.35), (12.4, 12.0, 0.3, 0.2)],
)
def test_put_call_parity_and_shared_greeks(spot: float, strike: float, years: float, vol: float) -> None:
    call = black_scholes(spot, strike, years, vol, "C")
    put = black_scholes(spot, strike, years, vol, "P")
    assert call.price - put.price == pytest.approx(spot - strike * math.exp(-0.045 * years), abs=1e-9)
    assert call.delta - put.delta == pytest.approx(1.0)
    assert (call.gamma, call.vega) == pytest.approx((put.gamma, put.vega))
    assert call.implied_vol == put.implied_vol == vol and call.underlying == spot


@pytest.mark.parametrize("right", ["C", "P"])
def test_implied_volatility_recovers_the_models_volatility(right: str) -> None:
    price = black_scholes(164.9, 170.0, 0.25, 0.37, right).price
    assert implied_volatility(price, 164.9, 170.0, 0.25, right) == pytest.approx(0.37, abs=1e-6)


def test_no_volatility_explains_a_price_below_intrinsic_value_or_after_expiry() -> None:
    assert implied_volatility(5.0, 120.0, 100.0, 0.5, "C") is None
    assert implied_volatility(1.0, 100.0, 100.0, 0.0, "C") is None


def test_an_expired_option_is_worth_its_intrinsic_value() -> None:
    assert black_scholes(110, 100, 0.0, 0.3, "C").price == 10.0
    assert black_scholes(110, 100, 0.0, 0.3, "P").price == 0.0
    assert black_scholes(90, 100, 0.0, 0.3, "P").delta == -1.0


def test_volatility_is_reproducible_per_seed_and_conid() -> None:
    assert volatility(1, 570418738) == volatility(1, 570418738)
    assert volatility(1, 570418738) != volatility(2, 570418738)
    assert all(0.18 <= volatility(7, conid) <= 0.6 for conid in range(400_000_000, 400_000_050))


def test_time_to_expiry_and_the_mark_floor() -> None:
    assert years_to_expiry("20250117", date(2025, 1, 6)) == pytest.approx(11 / 365)
    assert years_to_expiry("20250117", date(2025, 2, 1)) == 0.0
    assert mark_price(0.000001) == 0.01 and mark_price(2.345678) == 2.3457
