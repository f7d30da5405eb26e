"""Every business action, registered: :func:`build_actions` and :func:`build_executor`.

The actions are rasa-sdk ``Action`` / ``FormValidationAction`` classes: the order actions
(bot/actions/orders.py: verify the customer, order status, cancel), returns
(bot/actions/returns.py), product search (bot/actions/products.py) and the handoff
(bot/actions/handoff.py). They run in-process (:mod:`bot.actions.runner`) or behind any
rasa-sdk action server.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor

from bot.actions.handoff import ActionHandoff
from bot.actions.orders import ActionCancelOrder, ActionOrderStatus, ActionVerifyCustomer
from bot.actions.products import ActionProductSearch
from bot.actions.returns import ActionSubmitReturn, ValidateReturnForm
from bot.messages.catalogue import Catalogue
from bot.storage.orders import OrderBook


def build_actions(
    order_book: OrderBook | None,
    catalog: Any,
    handoff_text: str | None = None,
    currency: str = "USD",
    contact_text: str | None = None,
    catalogue: Catalogue | None = None,
) -> list[Action]:
    """Every business action, ready to register. See :func:`build_executor`."""
    products = catalog
    if hasattr(catalog, "products") and hasattr(catalog, "settings"):
        # A knowledge_base.store.Store: its products, texts (store.toml) and currency.
        catalogue = catalogue or Catalogue.for_store(catalog)
        products = catalog.products
        currency = getattr(catalog.settings, "currency", None) or currency
    catalogue = catalogue or Catalogue()
    # Texts given here are the store's own, in the store's language.
    given = {"handoff": handoff_text, "contact": contact_text}
    own = {key: text.replace("{", "{{").replace("}", "}}") for key, text in given.items() if text}
    if own:
        overrides = {k: dict(v) for k, v in catalogue.overrides.items()}
        overrides.setdefault(catalogue.store_language, {}).update(own)
        catalogue = Catalogue(overrides, catalogue.store_name, catalogue.store_language)
    return [
        ActionVerifyCustomer(order_book, currency, catalogue),
        ActionOrderStatus(order_book, currency, catalogue),
        ActionCancelOrder(order_book, currency, catalogue),
        ValidateReturnForm(order_book, currency, catalogue),
        ActionSubmitReturn(order_book, currency, catalogue),
        ActionProductSearch(products, currency, catalogue),
        ActionHandoff(catalogue),
    ]


def build_executor(
    order_book: OrderBook | None,
    catalog: Any,
    handoff_text: str | None = None,
    currency: str = "USD",
    contact_text: str | None = None,
    catalogue: Catalogue | None = None,
) -> ActionExecutor:
    """A rasa-sdk ``ActionExecutor`` with all business actions registered.

    ``order_book`` may be None (a store without orders): the order actions then say that
    orders can't be looked up here. ``catalog`` is a list of products (``.id``, ``.title``,
    ``.category``, ``.price``, ``.variants``, ``.in_stock``), or a whole ``Store``, whose
    ``store.toml`` then supplies the texts and the currency. ``catalogue``: the texts
    (bot/messages/), in every language; ``handoff_text`` / ``contact_text`` (how to reach
    the store, said instead of the handoff text when there is no agent inbox) override
    its handoff and contact texts in the store's language.
    """
    executor = ActionExecutor()
    actions = build_actions(order_book, catalog, handoff_text, currency, contact_text, catalogue)
    for action in actions:
        executor.register_action(action)
    return executor
