"""Catalog or knowledge: which of the store's sources answers a message naming products.

A message that names a product is not always a product question. "If I return the
dresser do I get all my money back?" names the dresser but asks the returns policy;
"how much is the dresser?" asks the catalog. The policy (bot/turn/policy.py) asks
:class:`Router` once the message has reached the product route, and the router
weighs the two sources' evidence on this store's own data:

- the catalog's: what the message asks of it (a price, stock, an option or value,
  a list: ``CatalogQuery.asks_catalog``, "do you have ...", "show me ...") and how
  closely the best product matches;
- the knowledge's: the best FAQ entries and passages (products left out, so a
  product title that shares the message's words does not hide the policy page),
  and the store calibration's decision on them (knowledge_base/calibration.py).

The knowledge answers when it is confident (the calibration at least ``bar``) and
either matches clearly better than any product, or the message tells a situation
or asks about the store's rules (phrases.tells_situation / asks_about_rules) with
no catalog question in it and matches about as well. A question about a named
product that neither the catalog (its words appear nowhere in the product's
record) nor the knowledge answers ("what's the weight limit on the Fenwick
chair?") is "not listed": an honest abstention, never the price line as if it
answered. Everything else stays with the catalog.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from bot.actions.catalog_query import CatalogQuery, naming_words
from bot.actions.catalog_vocab import CatalogVocabulary
from bot.actions.matching import word_tokens
from bot.nlu import phrases
from bot.turn.knowledge import DECISION_RANK
from bot.turn.records import Turn
from bot.turn.services import Services

# How many hits to search so the best knowledge entries surface past the products.
KNOWLEDGE_DEPTH = 15
# The knowledge hits the calibration decides on (as many as the knowledge route uses).
KNOWLEDGE_HITS = 5
# How much closer (dense cosine) the knowledge must match than the best product to
# answer a message that tells no situation ("the foundation shade I got is too dark").
CLEAR_LEAD = 0.1
# How much less closely it may match when the message asks about the rules, or tells a
# situation (a product named in it lifts that product's match), and asks the catalog
# nothing ("can I return the dresser?", "my serum arrived cracked").
RULES_SLACK = 0.05
SITUATION_SLACK = 0.1
# Words that carry no subject of their own in a question about a product.
_FILLER = set(
    word_tokens(
        "a an the this that these those it its it's is are was were be been do does did "
        "done have has had can could would will should may might must shall i me my we "
        "our us you your yours they them their he she his her what whats which who how "
        "when where why whether if or and but so then than of on in at to for from with "
        "about by as into up out over any some all one ones much many more most very "
        "really just also too there here get got tell know say said like please thanks "
        "thank hi hello hey ok okay yes no not don't dont doesn doesnt isn isnt whats "
        "made come comes came use used work works "
        "s t ll re ve d m"
    )
)


@dataclass(frozen=True)
class Evidence:
    """The knowledge's best entries for a message, set against the catalog's best."""

    hits: list[Any]  # FAQ entries and passages only, best first
    decision: str  # the store calibration's decision on ``hits``
    knowledge: float  # the best entry's dense score (0.0: none)
    product: float  # the best product's dense score (0.0: none)

    def at_least(self, bar: str) -> bool:
        return bool(self.hits) and DECISION_RANK[self.decision] >= DECISION_RANK[bar]


class Router:
    """Weighs the knowledge's evidence against the catalog's for one turn."""

    def __init__(self, services: Services) -> None:
        self.s = services

    async def evidence(self, turn: Turn) -> Evidence:
        """The knowledge entries and the best product for this message (searched once)."""
        hits = await asyncio.to_thread(self.s.index.search, turn.text, KNOWLEDGE_DEPTH)
        known = [h for h in hits if h.type != "product"][:KNOWLEDGE_HITS]
        products = [h for h in hits if h.type == "product"]
        decision = self.s.calibration.decide(known, self.s.composes())[0] if known else "abstain"
        return Evidence(
            hits=known,
            decision=decision,
            knowledge=_dense(known[0]) if known else 0.0,
            product=_dense(products[0]) if products else 0.0,
        )

    async def route(
        self, turn: Turn, query: CatalogQuery, vocab: CatalogVocabulary, bar: str
    ) -> tuple[str, tuple[list[Any], str] | None]:
        """``("knowledge", (hits, decision))``, ``("not_listed", None)`` or
        ``("catalog", None)`` for a message on the product route; ``bar``: how sure the
        calibration must be for the knowledge to answer."""
        situation = phrases.tells_situation(turn.text, turn.rules)
        if phrases.asks_for_products(turn.text, turn.rules) or (
            phrases.asks_availability(turn.text, turn.rules) and not situation
        ):
            return "catalog", None  # "do you have a vitamin C serum?", "show me rugs"
        evidence = await self.evidence(turn)
        # Prices and stock are the catalog's alone, whatever the pages say about them.
        catalog_only = query.asks_price or query.in_stock or query.has_price_bounds
        if evidence.at_least(bar) and not catalog_only:
            if evidence.knowledge >= evidence.product + CLEAR_LEAD:
                return "knowledge", (evidence.hits, evidence.decision)
        slack = SITUATION_SLACK if situation else RULES_SLACK
        situation = situation or phrases.asks_about_rules(turn.text, turn.rules)
        shown = turn.slots.get("last_products") or []
        asks = query.asks_catalog(compare=len(query.named) + len(shown) > 1)
        if situation and evidence.at_least("clarify") and not asks:
            # Close to the best product: the store's entries answer, or at least are
            # offered to choose from ("clarify"); a product list answers no situation.
            if evidence.knowledge >= evidence.product - slack:
                return "knowledge", (evidence.hits, evidence.decision)
        if (
            query.named
            and not asks
            and not query.refers_back  # "how do they compare?": the products shown
            and not evidence.at_least(bar)
            and phrases.asks_question(turn.text, turn.rules)
            and unlisted_words(query, vocab)
        ):
            return "not_listed", None
        return "catalog", None


def unlisted_words(query: CatalogQuery, vocab: CatalogVocabulary) -> set[str]:
    """The words a question about the named products asks about that appear nowhere in
    their catalog records (title, category, description, attributes, options):
    "weight limit" of "what's the weight limit on the Fenwick chair?"."""
    asked = set(word_tokens(query.message.norm)) - _FILLER - naming_words(query, vocab)
    asked = {w for w in asked if len(w) > 2 and not w.isdigit()}
    if not asked:
        return set()
    known: set[str] = set()
    for product in query.named:
        known |= set(word_tokens(_record_text(product)))
    return {w for w in asked if not any(_same_word(w, k) for k in known)}


def _same_word(a: str, b: str) -> bool:
    """One word, or one the other's stem ("charge" / "charging", "waterproof" / "water")."""
    short, long = sorted((a, b), key=len)
    return short == long or (len(short) >= 4 and long.startswith(short[: max(4, len(short) - 2)]))


def _record_text(product: Any) -> str:
    """Everything the catalog says about one product, as one text."""
    parts = [str(getattr(product, "title", "")), str(getattr(product, "category", ""))]
    parts.append(str(getattr(product, "description", "") or ""))
    for key, value in (getattr(product, "attributes", None) or {}).items():
        parts.append(f"{key} {value}")
    for variant in getattr(product, "variants", None) or []:
        parts.append(re.sub(r"[{}'\":,]", " ", str(getattr(variant, "options", variant))))
    return " ".join(parts)


def _dense(hit: Any) -> float:
    return float(getattr(hit, "dense", getattr(hit, "score", 0.0)))
