"""The policy as a table: what one message in one conversation state routes to.

No model is loaded: the policy (bot/turn/policy.py) is given its collaborators
(bot/turn/services.py) with a fake index, calibration and action runner, and a
real conversation log in a temporary SQLite file. Each row is a message (its
text and what the NLU read in it), the slots before it, what retrieval and the
store's calibration would say, and the route the policy must take.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.config import Config
from bot.messages.catalogue import Catalogue
from bot.storage.conversations import Conversation, ConversationStore
from bot.turn.flows import Flows
from bot.turn.knowledge import KnowledgeAnswers
from bot.turn.policy import Policy
from bot.turn.records import Turn
from bot.turn.services import Services
from knowledge_base.chinese import has_chinese
from knowledge_base.index import Hit
from knowledge_base.store import StoreSettings


@dataclass
class FakeStore:
    settings: StoreSettings = field(default_factory=StoreSettings)
    products: list[Any] = field(default_factory=list)


class FakeIndex:
    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.queries: list[str] = []

    def search(self, text: str, k: int = 5) -> list[Hit]:
        self.queries.append(text)
        return self.hits[:k]


class FakeCalibration:
    def __init__(self, decision: str) -> None:
        self.decision = decision

    def decide(self, hits: list[Hit], can_compose: bool) -> tuple[str, float]:
        return (self.decision if hits else "abstain"), 0.5

    def plausible(self, hits: list[Hit], i: int) -> bool:
        return True


class FakeRunner:
    """Records the actions run; each says one line and changes no slot."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    async def run(self, action: str, tracker: dict[str, Any]) -> dict[str, Any]:
        self.ran.append(action)
        return {"events": [], "responses": [{"text": f"({action})"}]}


class NoModel:
    generator = None  # no chat model: knowledge answers are quotations


def _hit(kind: str = "faq", title: str = "How long does shipping take?") -> Hit:
    return Hit(
        id=f"{kind}:1",
        type=kind,
        title=title,
        score=1.0,
        dense=0.9,
        lexical=0.5,
        text=title,
        answer="Orders ship within 2 business days.",
        meta={"product_id": "p1"} if kind == "product" else {},
    )


@dataclass
class Row:
    name: str
    text: str
    intent: str
    confidence: float = 0.9
    entities: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    decision: str = "abstain"
    # What must happen:
    action: str | None = None
    ran: list[str] = field(default_factory=list)
    slots_after: dict[str, Any] = field(default_factory=dict)


ROWS = [
    Row("the handoff button", "/handoff", "oos", action="action_handoff", ran=["action_handoff"]),
    Row(
        "words asking for a person",
        "can I talk to a human please",
        "oos",
        0.2,
        action="action_handoff",
        ran=["action_handoff"],
    ),
    Row(
        "order status starts its action (which asks who they are)",
        "where is my order",
        "track_order",
        action="action_order_status",
        ran=["action_order_status"],
    ),
    Row(
        "cancel starts its action",
        "I want to cancel my order",
        "cancel_order",
        action="action_cancel_order",
        ran=["action_cancel_order"],
    ),
    Row(
        "a return waits for verification first",
        "I want to return something",
        "return_order",
        action="action_verify_customer",
        ran=["action_verify_customer"],
        slots_after={"pending_action": "return_form", "active_loop": "return_form"},
    ),
    Row("small talk", "hello there", "greet", action="utter_greet"),
    Row(
        "a product question runs the catalog search",
        "do you sell tents",
        "product_info",
        action="action_product_search",
        ran=["action_product_search"],
    ),
    Row(
        "an order id alone checks that order",
        "A-10023",
        "oos",
        0.3,
        entities=[{"entity": "order_id", "value": "A-10023"}],
        action="action_order_status",
        ran=["action_order_status"],
        slots_after={"order_id": "A-10023"},
    ),
    Row(
        "nothing answers: abstain and offer a person",
        "what is the meaning of life",
        "oos",
        0.95,
        action="action_abstain",
        slots_after={"offered_handoff": True},
    ),
    Row(
        "a low-confidence action intent does not start the action",
        "order",
        "track_order",
        0.3,
        action="action_abstain",
    ),
    Row(
        "no to the offered person",
        "no thanks",
        "deny",
        slots={"offered_handoff": True},
        action="action_listen",
    ),
    Row(
        "yes to the offered person",
        "yes please",
        "affirm",
        slots={"offered_handoff": True},
        action="action_handoff",
        ran=["action_handoff"],
    ),
    Row(
        "a stale confirm button changes nothing",
        "/confirm_cancel",
        "oos",
        action="action_listen",
    ),
    Row(
        "the store's own answer, quoted",
        "how long does shipping take",
        "oos",
        hits=[_hit()],
        decision="quote",
        action="action_answer_curated",
    ),
    Row(
        "a near match asks which entry was meant",
        "delivery?",
        "oos",
        hits=[_hit()],
        decision="clarify",
        action="action_clarify",
    ),
    Row(
        "the intent model reads a person, the words say no to one",
        "I don't need a human, how long does shipping take?",
        "contact_human_agent",
        hits=[_hit()],
        decision="quote",
        action="action_answer_curated",
    ),
    Row(
        "a question about the team is not a request for it",
        "人工客服几点上班？",
        "contact_human_agent",
        hits=[_hit()],
        decision="quote",
        action="action_answer_curated",
    ),
    Row(
        "a product as the best knowledge match goes to the catalog",
        "the blue tent",
        "oos",
        hits=[_hit("product", "Blue Tent")],
        decision="answer",
        action="action_product_search",
        ran=["action_product_search"],
    ),
]


def _route(row: Row, tmp_path) -> tuple[Turn, FakeRunner]:
    store = FakeStore()
    runner = FakeRunner()
    services = Services(
        config=Config(admin_token=None),
        store=store,
        nlu=None,
        index=FakeIndex(row.hits),
        answerer=NoModel(),
        runner=runner,  # type: ignore[arg-type]
        conversations=ConversationStore(tmp_path / "log.db"),
        catalogue=Catalogue.for_settings(store.settings),
        calibration=FakeCalibration(row.decision),  # type: ignore[arg-type]
    )
    flows = Flows(services)
    policy = Policy(services, flows, KnowledgeAnswers(services, flows.run))
    parse = {
        "text": row.text,
        "intent": {"name": row.intent, "confidence": row.confidence},
        "entities": row.entities,
        "intent_ranking": [],
    }
    conv = Conversation("policy-table", dict(row.slots), [])
    language = "zh" if has_chinese(row.text) else "en"
    turn = Turn(conv, row.text, parse, services.catalogue.for_language(language), language)

    async def decide() -> None:
        async for _ in policy.decide(turn):
            pass

    asyncio.run(decide())
    services.conversations.close()
    return turn, runner


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_policy_routes(row: Row, tmp_path) -> None:
    turn, runner = _route(row, tmp_path)
    assert turn.action == row.action
    assert runner.ran == row.ran
    for key, value in row.slots_after.items():
        assert turn.slots.get(key) == value, key
    assert turn.messages, "every route says something"


def test_a_copied_bot_has_its_own_services(tmp_path) -> None:
    import copy

    from bot.turn.pipeline import Bot

    store = FakeStore()
    services = Services(
        config=Config(admin_token=None),
        store=store,
        nlu=None,
        index=FakeIndex([]),
        answerer=NoModel(),
        runner=FakeRunner(),  # type: ignore[arg-type]
        conversations=ConversationStore(tmp_path / "log.db"),
        catalogue=Catalogue.for_settings(store.settings),
    )
    bot = Bot(services)
    twin = copy.copy(bot)
    twin.index = FakeIndex([_hit()])
    twin.runner = FakeRunner()  # type: ignore[assignment]
    assert bot.index is services.index and bot.runner is services.runner
    assert twin.index is not bot.index and twin.runner is not bot.runner
    assert twin.conversations is bot.conversations  # the models and the log are shared
    services.conversations.close()
