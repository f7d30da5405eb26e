"""The customer's words against catalog titles and option values: the word matching that
product search (bot/actions/products.py) and a return's items (bot/actions/returns.py)
share."""

from __future__ import annotations

import re


def word_tokens(text: str) -> list[str]:
    """Lower-case word tokens, crude singular ("bottles" -> "bottle") so plurals match."""
    out = []
    for tok in re.findall(r"[a-z0-9]+", text.lower()):
        if len(tok) > 3 and tok.endswith("s") and not tok.endswith("ss"):
            tok = tok[:-1]
        out.append(tok)
    return out


def joined_ngrams(tokens: list[str], max_n: int = 3) -> set[str]:
    """Adjacent tokens glued together, so "tshirt" / "t shirt" / "t-shirt" all match."""
    return {
        "".join(tokens[i : i + n]) for n in range(1, max_n + 1) for i in range(len(tokens) - n + 1)
    }


def contains_phrase(tokens: list[str], phrase: str) -> bool:
    """The words of ``phrase`` appear in ``tokens``, adjacent and in order."""
    want = word_tokens(phrase)
    if not want:
        return False
    return any(tokens[i : i + len(want)] == want for i in range(len(tokens) - len(want) + 1))
