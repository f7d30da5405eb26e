"""What the turn pipeline works with, passed in whole by bot/assemble.py.

The policy, the flows and the knowledge route each hold the same ``Services``;
the ``Bot`` shows every field as its own attribute (``bot.index``,
``bot.config``, ...), so replacing one (a newly activated adapter's answerer,
a test's fake index) replaces it for every part of the pipeline at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.actions.runner import ActionRunner
from bot.answers.admission import GenerationGate
from bot.config import Config
from bot.messages.catalogue import Catalogue
from bot.storage.conversations import ConversationStore
from knowledge_base.calibration import Calibration, conservative

if TYPE_CHECKING:
    from bot.answers.answerer import KnowledgeAnswerer
    from bot.nlu.parser import NLU
    from knowledge_base.index import KnowledgeIndex
    from knowledge_base.store import Store


@dataclass
class Services:
    config: Config
    store: Store
    nlu: NLU
    index: KnowledgeIndex
    answerer: KnowledgeAnswerer
    runner: ActionRunner
    conversations: ConversationStore
    catalogue: Catalogue  # every fixed text, per language, with the store's overrides
    # When to answer, quote, ask or abstain: the store's calibration.
    calibration: Calibration = field(default_factory=conservative)
    # Bounded admission to the chat LM: a queue, then a polite "busy" reply.
    generation_gate: GenerationGate | None = None
    order_book: Any = None  # bot.storage.orders.OrderBook, when the store has orders
    artifacts: Any = None  # knowledge_base.build.Artifacts the bot was loaded from
    adapter_path: Any = None  # the LoRA adapter the chat model serves, if any
    # Re-ranks near-tie product matches by the customer's profile (bot/insights/personalise.py).
    product_reranker: Any = None
    # Whether agents can answer handed-off conversations; None: the config decides
    # (see has_agent_inbox). The server sets it while it runs (bot/web/inbox.py).
    agent_inbox: bool | None = None

    def __post_init__(self) -> None:
        if self.generation_gate is None:
            self.generation_gate = GenerationGate.from_config(self.config)

    def has_agent_inbox(self) -> bool:
        """Whether people can answer handed-off conversations here (the agents' inbox).

        The server sets ``agent_inbox`` while it runs (bot/web/inbox.py); otherwise the
        config decides: the inbox exists only with an admin token.
        """
        if self.agent_inbox is not None:
            return bool(self.agent_inbox)
        return bool(self.config.admin_token)

    def composes(self) -> bool:
        """Whether a chat model writes knowledge answers (else they are quotations)."""
        return getattr(getattr(self.answerer, "generator", None), "name", "none") != "none"
