"""Amounts of money as customers read them: ``$1,234.50``, ``€5``, ``CHF 12.00``.

One formatter for every price the bot writes: the product passages of the index
(knowledge_base/store.py) and the business actions' replies (bot/actions/).
"""

from __future__ import annotations

# CNY and JPY share the yen/yuan sign: a store has one currency, so it is not ambiguous.
CURRENCY_SYMBOLS = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CNY": "¥",
    "INR": "₹",
    "CAD": "CA$",
}


def format_money(
    amount: float | None,
    currency: str = "USD",
    unpriced: str = "price on request",
    *,
    trim_cents: bool = False,
) -> str:
    """``$1,234.50``: two decimals, the currency's symbol, or its code before the amount
    when it has no known symbol (``CHF 12.00``); no amount: ``unpriced``.

    ``trim_cents``: a whole amount without its ``.00`` (``$20``, as product passages
    write it); otherwise always two decimals (``$20.00``, as order summaries do).
    """
    if amount is None:
        return unpriced
    value = f"{amount:,.2f}"
    if trim_cents and value.endswith(".00"):
        value = value[:-3]
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    return f"{symbol}{value}" if symbol else f"{currency.upper()} {value}"
