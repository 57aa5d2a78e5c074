"""The demo instrument universe: real-looking US stocks and the options listed on them."""

import calendar
from datetime import date, timedelta

import msgspec

from possync.simulator.greeks import black_scholes, mark_price, years_to_expiry


class DemoContract(msgspec.Struct, frozen=True, kw_only=True):
    """One contract the simulated gateway knows; `price` is its reference price when the simulator starts.

    An option's `volatility` is its Black-Scholes volatility (its price follows its underlying through the
    model, see greeks.py); 0 for a stock.
    """

    conid: int
    symbol: str
    sec_type: str
    expiry: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    currency: str = "USD"
    primary_exchange: str = ""
    local_symbol: str = ""
    trading_class: str = ""
    long_name: str = ""
    under_conid: int = 0
    price: float = 0.0
    volatility: float = 0.0

    @property
    def price_factor(self) -> float:
        """What one unit of position is worth per point of price (the multiplier, 1 for stocks)."""
        return float(self.multiplier or 1)


# symbol, primary exchange, conid, reference price, long name
_STOCK_TABLE: tuple[tuple[str, str, int, float, str], ...] = (
    ("AAPL", "NASDAQ", 265598, 189.50, "APPLE INC"),
    ("MSFT", "NASDAQ", 272093, 415.20, "MICROSOFT CORP"),
    ("AMZN", "NASDAQ", 3691937, 178.30, "AMAZON.COM INC"),
    ("NVDA", "NASDAQ", 4815747, 880.10, "NVIDIA CORP"),
    ("GOOGL", "NASDAQ", 208813719, 152.40, "ALPHABET INC-CL A"),
    ("META", "NASDAQ", 107113386, 492.60, "META PLATFORMS INC-CLASS A"),
    ("TSLA", "NASDAQ", 76792991, 171.80, "TESLA INC"),
    ("NFLX", "NASDAQ", 15124833, 612.30, "NETFLIX INC"),
    ("AMD", "NASDAQ", 4391, 164.90, "ADVANCED MICRO DEVICES"),
    ("INTC", "NASDAQ", 270639, 34.20, "INTEL CORP"),
    ("CSCO", "NASDAQ", 268084, 48.70, "CISCO SYSTEMS INC"),
    ("ADBE", "NASDAQ", 265768, 478.10, "ADOBE INC"),
    ("PEP", "NASDAQ", 11017, 168.40, "PEPSICO INC"),
    ("COST", "NASDAQ", 272997, 731.50, "COSTCO WHOLESALE CORP"),
    ("QQQ", "NASDAQ", 320227571, 438.20, "INVESCO QQQ TRUST SERIES 1"),
    ("SPY", "ARCA", 756733, 512.80, "SPDR S&P 500 ETF TRUST"),
    ("IWM", "ARCA", 9579970, 204.60, "ISHARES RUSSELL 2000 ETF"),
    ("GLD", "ARCA", 51529211, 214.30, "SPDR GOLD SHARES"),
    ("XLE", "ARCA", 4215220, 94.10, "ENERGY SELECT SECTOR SPDR"),
    ("IBM", "NYSE", 8314, 187.90, "INTL BUSINESS MACHINES CORP"),
    ("JPM", "NYSE", 1520593, 196.40, "JPMORGAN CHASE & CO"),
    ("BAC", "NYSE", 10098, 37.60, "BANK OF AMERICA CORP"),
    ("WMT", "NYSE", 13824, 60.20, "WALMART INC"),
    ("KO", "NYSE", 8894, 61.10, "COCA-COLA CO/THE"),
    ("XOM", "NYSE", 13977, 118.30, "EXXON MOBIL CORP"),
    ("CVX", "NYSE", 5719, 157.40, "CHEVRON CORP"),
    ("JNJ", "NYSE", 8719, 155.20, "JOHNSON & JOHNSON"),
    ("PG", "NYSE", 10291, 161.80, "PROCTER & GAMBLE CO/THE"),
    ("DIS", "NYSE", 6459, 112.70, "WALT DISNEY CO/THE"),
    ("V", "NYSE", 49462172, 279.50, "VISA INC-CLASS A SHARES"),
    ("MA", "NYSE", 72063691, 475.90, "MASTERCARD INC - A"),
    ("BA", "NYSE", 4762, 181.30, "BOEING CO/THE"),
    ("CAT", "NYSE", 5437, 352.60, "CATERPILLAR INC"),
    ("GE", "NYSE", 498843743, 158.20, "GE AEROSPACE"),
    ("F", "NYSE", 9599491, 12.40, "FORD MOTOR CO"),
    ("T", "NYSE", 37018770, 16.90, "AT&T INC"),
    ("PFE", "NYSE", 11471, 27.80, "PFIZER INC"),
    ("UBER", "NYSE", 365207014, 72.30, "UBER TECHNOLOGIES INC"),
)


def stocks() -> list[DemoContract]:
    """Every stock of the universe, in a fixed order."""
    return [
        DemoContract(
            conid=conid,
            symbol=symbol,
            sec_type="STK",
            primary_exchange=exchange,
            local_symbol=symbol,
            trading_class="NMS" if exchange == "NASDAQ" else symbol,
            long_name=name,
            price=price,
        )
        for symbol, exchange, conid, price, name in _STOCK_TABLE
    ]


def option(
    underlying: DemoContract,
    expiry: date,
    strike: float,
    right: str,
    conid: int,
    as_of: date,
    volatility: float,
) -> DemoContract:
    """A US equity option on `underlying`, priced as of `as_of` by Black-Scholes at `volatility`."""
    expiry_text = expiry.strftime("%Y%m%d")
    years = years_to_expiry(expiry_text, as_of)
    return DemoContract(
        conid=conid,
        symbol=underlying.symbol,
        sec_type="OPT",
        expiry=expiry_text,
        strike=strike,
        right=right,
        multiplier="100",
        primary_exchange="",
        local_symbol=occ_symbol(underlying.symbol, expiry, right, strike),
        trading_class=underlying.symbol,
        long_name=underlying.long_name,
        under_conid=underlying.conid,
        price=mark_price(black_scholes(underlying.price, strike, years, volatility, right).price),
        volatility=volatility,
    )


def occ_symbol(symbol: str, expiry: date, right: str, strike: float) -> str:
    """The OCC option symbol IB uses as localSymbol, e.g. `AAPL  250117C00190000`."""
    return f"{symbol:<6}{expiry:%y%m%d}{right}{round(strike * 1000):08d}"


def strike_step(price: float) -> float:
    """The strike increment listed around `price`."""
    if price < 25:
        return 0.5
    if price < 100:
        return 1.0
    if price < 250:
        return 2.5
    return 5.0


def third_friday(year: int, month: int) -> date:
    """The standard monthly option expiry of a month."""
    first = date(year, month, 1)
    first_friday = 1 + (calendar.FRIDAY - first.weekday()) % 7
    return date(year, month, first_friday + 14)


def expiries(as_of: date, months: int = 6) -> list[date]:
    """The listed expiries after `as_of`: the next two weekly Fridays and `months` monthly ones."""
    next_friday = as_of + timedelta(days=(calendar.FRIDAY - as_of.weekday()) % 7 or 7)
    listed = {next_friday, next_friday + timedelta(days=7)}
    year, month = as_of.year, as_of.month
    while len(listed) < months + 2:
        expiry = third_friday(year, month)
        if expiry > as_of:
            listed.add(expiry)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return sorted(listed)


class ContractQuery(msgspec.Struct, frozen=True, kw_only=True):
    """The contract a client asked about; blank fields mean "any", a conid alone identifies a contract."""

    conid: int = 0
    symbol: str = ""
    sec_type: str = ""
    expiry: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    currency: str = ""
    local_symbol: str = ""
    trading_class: str = ""

    def matches(self, contract: DemoContract) -> bool:
        """Whether `contract` fits every field given here (an expiry matches as a prefix: `202501`)."""
        if self.conid:
            return contract.conid == self.conid
        if not (self.symbol or self.local_symbol):
            return False
        wanted = (
            (self.symbol, contract.symbol),
            (self.sec_type, contract.sec_type),
            (self.right, contract.right),
            (self.multiplier, contract.multiplier),
            (self.currency, contract.currency),
            (self.local_symbol, contract.local_symbol),
            (self.trading_class, contract.trading_class),
        )
        if any(want and want != have for want, have in wanted):
            return False
        if not contract.expiry.startswith(self.expiry):
            return False
        return not self.strike or self.strike == contract.strike
