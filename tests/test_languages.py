"""Each customer message is answered in the customer's language (issue 16, part A).

The message catalogue (bot/messages/) has every fixed text in English and simplified
Chinese; each message's language is told (bot/nlu/language.py) and the reply's fixed texts,
the actions' included, come in it; a message too short to tell keeps the conversation's
language; Chinese requests for a person hand off (bot/nlu/phrases.py); a store overrides
texts per language in store.toml and a bad override is refused with the file and key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from bot.actions.registry import build_executor
from bot.actions.runner import ActionRunner
from bot.messages.catalogue import CATALOGUE, Catalogue, placeholders
from bot.nlu.language import detect, reply_language
from bot.nlu.phrases import asks_for_person, asks_for_products, rules_for, small_talk
from bot.turn.escalation import offer_handoff_if_needed
from knowledge_base.store import load_store
from knowledge_base.store_files import StoreError
from tests.conftest import copy_demo_store, started_client
from tests.conversation import chat
from tests.test_actions import CATALOG, TSHIRT, Chat, ent
from tests.test_orders import make_store, open_book

# A pending demo-store order no other test changes, and its customer's email.
ORDER_TO_CANCEL, ITS_EMAIL = "#W8955613", "olivia.lopez8783@example.com"
PROCESSED_ORDER, PROCESSED_EMAIL = "#W8935389", "raj.li3320@example.com"
ORDER_TO_RETURN, RETURN_EMAIL = "#W6552785", "aarav.davis2239@example.com"  # delivered


def new_sender() -> str:
    return f"lang-{uuid4().hex[:8]}"


def zh(bot: Any, key: str, **values: Any) -> str:
    return bot.catalogue.text(key, "zh", **values)


def en(bot: Any, key: str, **values: Any) -> str:
    return bot.catalogue.text(key, "en", **values)


def titles(reply: Any) -> list[str]:
    return [b["title"] for m in reply.messages for b in m.get("buttons", [])]


def language_of(bot: Any, sender: str) -> str | None:
    return bot.conversations.load_conversation(sender).slots.get("language")


@contextmanager
def speaking(bot: Any, catalogue: Catalogue) -> Iterator[Any]:
    """The shared demo bot with another catalogue (dialogue and actions), restored after."""
    saved = bot.catalogue, bot.runner
    bot.catalogue = catalogue
    bot.runner = ActionRunner(
        executor=build_executor(bot.order_book, bot.store.products, catalogue=catalogue)
    )
    try:
        yield bot
    finally:
        bot.catalogue, bot.runner = saved


@contextmanager
def agent_inbox(bot: Any, present: bool) -> Iterator[None]:
    before = bot.agent_inbox
    bot.agent_inbox = present
    try:
        yield
    finally:
        bot.agent_inbox = before


def zh_store_catalogue(bot: Any) -> Catalogue:
    """The demo store's texts as if its store.toml said ``language = "zh"``."""
    return Catalogue(bot.catalogue.overrides, bot.catalogue.store_name, "zh")


# ----------------------------------------------------------------- the catalogue


def test_every_text_is_complete_in_english_and_chinese_with_the_same_placeholders() -> None:
    assert set(CATALOGUE["en"]) == set(CATALOGUE["zh"])
    for key, english in CATALOGUE["en"].items():
        chinese = CATALOGUE["zh"][key]
        assert chinese.strip(), key
        assert placeholders(chinese) == placeholders(english), key


def test_store_texts_override_per_language_and_the_old_keys_are_the_store_language(
    tmp_path: Path,
) -> None:
    root = copy_demo_store(tmp_path / "store")
    toml = root / "store.toml"
    text = toml.read_text().replace('language = "en"', 'language = "zh"')
    text = text.replace("greeting = ", "greeting_was = ", 1)
    toml.write_text(
        text
        + 'greeting = "亲，欢迎光临！{有事请说}"\n'
        + "\n[texts.zh]\n"
        + 'verified = "{first_name}，验证好啦～"\n'
        + "\n[texts.en]\n"
        + 'clarify = "Which of these did you mean, at {store}?"\n'
    )
    catalogue = Catalogue.for_store(load_store(root))
    assert catalogue.store_language == "zh"
    # The old top-level key is the store's own language, said as written (braces too).
    assert catalogue.text("greeting", "zh") == "亲，欢迎光临！{有事请说}"
    assert catalogue.greeting() == "亲，欢迎光临！{有事请说}"
    assert catalogue.text("greeting", "en") == (
        "Hi! I'm the Harbor & Pine Goods assistant. Ask me about products, orders, "
        "shipping or returns."
    )
    assert catalogue.text("verified", "zh", first_name="Mei") == "Mei，验证好啦～"
    assert catalogue.text("clarify", "en") == "Which of these did you mean, at Harbor & Pine Goods?"
    assert catalogue.text("clarify", "zh") == CATALOGUE["zh"]["clarify"]
    # A language the bot does not speak gets the store's.
    assert catalogue.for_language("fr").language == "zh"


@pytest.mark.parametrize(
    ("table", "where", "says"),
    [
        ('[texts.zh]\ngretting = "您好"\n', "texts.zh.gretting", "Did you mean 'greeting'?"),
        ('[texts.zh]\nverified = "{name}，好了"\n', "texts.zh.verified", "{first_name}"),
        ('[texts.fr]\ngreeting = "Bonjour"\n', "texts.fr", "en, zh"),
        ("[texts.en]\nclarify = 3\n", "texts.en.clarify", "string"),
        ('[texts.en]\nclarify = "Did you mean {"\n', "texts.en.clarify", "{{"),
    ],
)
def test_a_bad_text_override_is_refused_naming_the_file_and_the_key(
    tmp_path: Path, table: str, where: str, says: str
) -> None:
    root = copy_demo_store(tmp_path / "store")
    toml = root / "store.toml"
    toml.write_text(toml.read_text() + "\n" + table)
    store = load_store(root)  # the store itself loads; the bot's texts refuse it
    with pytest.raises(StoreError) as refused:
        Catalogue.for_store(store)
    message = str(refused.value)
    assert str(toml) in message and where in message and says in message, message


# ----------------------------------------------------------------- telling the language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("转人工", "zh"),
        ("轉人工", "zh"),  # traditional Chinese counts as Chinese
        ("我的订单 #W2611340 到哪了", "zh"),
        ("我的邮箱是 raj.li3320@example.com", "zh"),
        ("好的", "zh"),
        ("Where is my order?", "en"),
        ("my email is raj.li3320@example.com", "en"),
        ("Bonjour, où est ma commande ?", "fr"),
        ("ok", None),
        ("1", None),
        ("raj.li3320@example.com", None),
        ("#W2611340", None),
        ("/handoff", None),
        ("thanks", None),
    ],
)
def test_each_message_language_is_told_or_left_open(text: str, language: str | None) -> None:
    assert detect(text) == language


def test_the_reply_language_is_the_message_s_else_the_conversation_s_else_the_store_s() -> None:
    assert reply_language("zh", "en", "en") == "zh"
    assert reply_language(None, "zh", "en") == "zh"
    assert reply_language("fr", "zh", "en") == "zh"  # a language the bot does not speak
    assert reply_language(None, None, "zh-CN") == "zh"
    assert reply_language(None, None, "fr") == "en"


@pytest.mark.parametrize(
    "text",
    ["转人工", "轉人工", "人工客服", "找客服", "我要找真人", "真人", "人工", "我要投诉找人",
     "请帮我转接人工服务", "怎么转人工？"],
)  # fmt: skip
def test_chinese_requests_for_a_person(text: str) -> None:
    assert asks_for_person(text, rules_for("zh"))


@pytest.mark.parametrize(
    "text", ["不要转人工", "不用找客服", "人工客服几点上班？", "人工智能是什么", "安装要人工费吗"]
)
def test_chinese_that_is_not_a_request_for_a_person(text: str) -> None:
    assert not asks_for_person(text, rules_for("zh"))


@pytest.mark.parametrize(
    ("text", "intent"),
    [("你好", "greet"), ("您好，在吗？", "greet"), ("谢谢", "thanks"), ("好的，谢谢！", "thanks"),
     ("再见", "goodbye"), ("没有了，谢谢", "goodbye"), ("好的", None), ("谢谢，我的订单到哪了", None)],
)  # fmt: skip
def test_chinese_small_talk_is_the_whole_message(text: str, intent: str | None) -> None:
    assert small_talk(text, rules_for("zh")) == intent


# ----------------------------------------------------------------- the demo store, end to end


async def test_a_chinese_question_the_store_cannot_answer_gets_the_chinese_abstention(
    demo_bot: Any,
) -> None:
    reply = await demo_bot.handle(new_sender(), "火星上明天天气怎么样？")
    assert reply.action == "action_abstain"
    assert reply.text in (zh(demo_bot, "oos"), zh(demo_bot, "low_confidence"))
    assert titles(reply) == [
        zh(demo_bot, "button_talk_to_person"),
        zh(demo_bot, "button_no_thanks"),
    ]


async def test_a_chinese_message_gets_the_chinese_clarifying_question(demo_bot: Any) -> None:
    sender = new_sender()
    reply = await demo_bot.handle(sender, "exchange size 怎么换")
    assert reply.action == "action_clarify"
    assert reply.text == zh(demo_bot, "clarify")
    assert titles(reply)[-1] == zh(demo_bot, "button_none_of_these")
    # The candidates' payloads are the store's (English) titles: a click keeps Chinese.
    await demo_bot.handle(sender, reply.messages[0]["buttons"][0]["payload"])
    assert language_of(demo_bot, sender) == "zh"


@pytest.mark.parametrize("text", ["转人工", "轉人工", "人工客服", "我要找真人"])
async def test_a_chinese_request_for_a_person_hands_off_in_chinese(
    demo_bot: Any, text: str
) -> None:
    with agent_inbox(demo_bot, False):
        reply = await demo_bot.handle(new_sender(), text)
    assert reply.action == "action_handoff" and reply.handoff
    contact = zh(demo_bot, "contact")
    assert reply.text == zh(demo_bot, "no_inbox_handoff", contact=contact)


async def test_with_an_inbox_a_chinese_handoff_waits_and_is_handed_back_in_chinese(
    demo_bot: Any,
) -> None:
    sender = new_sender()
    with agent_inbox(demo_bot, True):
        try:
            reply = await demo_bot.handle(sender, "转人工")
            assert reply.handoff and reply.text == zh(demo_bot, "handoff")
            waiting = await demo_bot.handle(sender, "在吗")
            assert waiting.action == "handoff_waiting"
            assert waiting.text == zh(demo_bot, "handoff_waiting")
            await demo_bot.hand_back(sender, "agent-lang")
            history = demo_bot.conversations.load_conversation(sender).history
            assert history[-1]["content"] == zh(demo_bot, "handed_back")
        finally:
            await demo_bot.handle(sender, "/restart")


async def test_chinese_small_talk_is_answered_in_chinese(demo_bot: Any) -> None:
    sender = new_sender()
    greeting = await demo_bot.handle(sender, "你好")
    assert greeting.action == "utter_greet" and greeting.text == zh(demo_bot, "greeting")
    thanks = await demo_bot.handle(sender, "谢谢")
    assert thanks.action == "utter_thanks" and thanks.text == zh(demo_bot, "thanks")
    bye = await demo_bot.handle(sender, "再见")
    assert bye.action == "utter_goodbye" and bye.text == zh(demo_bot, "goodbye")


async def test_chinese_order_questions_get_chinese_verification_and_order_texts(
    demo_bot: Any,
) -> None:
    sender = new_sender()
    asked = await demo_bot.handle(sender, f"我的订单 {PROCESSED_ORDER} 到哪了")
    assert asked.action == "action_order_status"
    assert asked.text == zh(demo_bot, "ask_identity")
    shown = await demo_bot.handle(sender, f"我的邮箱是 {PROCESSED_EMAIL}")
    assert shown.text.startswith(zh(demo_bot, "verified", first_name="Raj"))
    assert zh(demo_bot, "order_status", order_id=PROCESSED_ORDER, status="已处理") in shown.text


async def test_a_chinese_yes_confirms_a_cancellation_asked_in_chinese(demo_bot: Any) -> None:
    sender = new_sender()
    await demo_bot.handle(sender, f"I want to cancel order {ORDER_TO_CANCEL}")
    # From here on the customer writes Chinese: the actions answer in Chinese.
    reason = await demo_bot.handle(sender, f"我的邮箱是 {ITS_EMAIL}")
    assert zh(demo_bot, "ask_cancel_reason", order_id=ORDER_TO_CANCEL) in reason.text
    assert titles(reason) == [
        zh(demo_bot, "button_no_longer_needed"),
        zh(demo_bot, "button_ordered_by_mistake"),
    ]
    # The button's payload is English ("no longer needed"): the click keeps Chinese.
    question = await demo_bot.handle(sender, reason.messages[-1]["buttons"][0]["payload"])
    assert question.text.startswith(zh(demo_bot, "cancel_confirm", order_id=ORDER_TO_CANCEL))
    assert zh(demo_bot, "reason_line", reason="不再需要") in question.text
    assert question.text.endswith(zh(demo_bot, "ask_yes"))
    unclear = await demo_bot.handle(sender, "好的，但是退款多久到账？")
    assert unclear.text == zh(demo_bot, "confirm_unclear")
    assert demo_bot.order_book.get(ORDER_TO_CANCEL).status == "pending"
    done = await demo_bot.handle(sender, "是的")
    assert done.text.startswith(zh(demo_bot, "cancel_done", order_id=ORDER_TO_CANCEL, refund=""))
    assert demo_bot.order_book.get(ORDER_TO_CANCEL).status == "cancelled"


async def test_the_return_form_asks_and_confirms_in_chinese(demo_bot: Any) -> None:
    sender = new_sender()
    await demo_bot.handle(sender, f"I want to return an item from order {ORDER_TO_RETURN}")
    asked = await demo_bot.handle(sender, f"我的邮箱是 {RETURN_EMAIL}")
    assert asked.messages[-1]["text"] == zh(demo_bot, "return_ask_items")
    reason = await demo_bot.handle(sender, "全部")  # "all", in Chinese
    assert reason.text == zh(demo_bot, "return_ask_reason")
    again = await demo_bot.handle(sender, "x")
    # The action's own Chinese question ends in "？": it is not asked twice.
    assert [m["text"] for m in again.messages] == [zh(demo_bot, "return_reason_missing")]
    question = await demo_bot.handle(sender, "尺码不合适")
    assert question.text.startswith(zh(demo_bot, "return_confirm", order_id=ORDER_TO_RETURN))
    assert titles(question) == [zh(demo_bot, "button_yes_return"), zh(demo_bot, "button_no")]
    declined = await demo_bot.handle(sender, "不要")
    assert declined.text == zh(demo_bot, "deny_change")
    assert demo_bot.order_book.get(ORDER_TO_RETURN).status == "delivered"


async def test_a_chinese_no_to_a_handoff_offer_declines_it_in_chinese(demo_bot: Any) -> None:
    sender = new_sender()
    await demo_bot.handle(sender, "火星上明天天气怎么样？")
    declined = await demo_bot.handle(sender, "不用了")
    assert declined.text == zh(demo_bot, "deny_handoff") and not declined.handoff


async def test_a_short_reply_keeps_the_conversation_s_language(demo_bot: Any) -> None:
    sender = new_sender()
    await demo_bot.handle(sender, "你好")
    for short in ("ok", "好的", PROCESSED_ORDER):
        reply = await demo_bot.handle(sender, short)
        assert language_of(demo_bot, sender) == "zh"
        assert any("\u4e00" <= ch <= "\u9fff" for ch in reply.text), (short, reply.text)
    english = new_sender()
    await demo_bot.handle(english, "Hi, is anyone there?")
    reply = await demo_bot.handle(english, "ok")
    assert language_of(demo_bot, english) == "en"
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in reply.text), reply.text


async def test_an_english_message_in_a_chinese_store_gets_english_texts(demo_bot: Any) -> None:
    with speaking(demo_bot, zh_store_catalogue(demo_bot)):
        sender = new_sender()
        # Too short to tell: the store's language.
        hello = await demo_bot.handle(sender, "hi")
        assert hello.text == zh(demo_bot, "greeting")
        asked = await demo_bot.handle(sender, "Where is my order?")
        assert asked.text == en(demo_bot, "ask_identity")
        assert language_of(demo_bot, sender) == "en"
        with agent_inbox(demo_bot, False):
            person = await demo_bot.handle(sender, "Can I speak to an agent?")
        assert person.text == en(demo_bot, "no_inbox_handoff", contact=en(demo_bot, "contact"))


async def test_the_store_s_override_is_what_the_customer_reads(
    demo_bot: Any, tmp_path: Path
) -> None:
    root = copy_demo_store(tmp_path / "store")
    toml = root / "store.toml"
    toml.write_text(
        toml.read_text()
        + '\n[texts.zh]\ngreeting = "亲，欢迎光临{store}！"\ncontact = "请拨打 400-800-1234。"\n'
    )
    with speaking(demo_bot, Catalogue.for_store(load_store(root))):
        sender = new_sender()
        hello = await demo_bot.handle(sender, "您好")
        assert hello.text == "亲，欢迎光临Harbor & Pine Goods！"
        with agent_inbox(demo_bot, False):
            person = await demo_bot.handle(sender, "转人工")
        assert person.text.endswith("请拨打 400-800-1234。")  # said by the handoff action
        english = await demo_bot.handle(new_sender(), "Hello there, good morning!")
        assert english.text == demo_bot.settings.greeting  # the store's English greeting


async def test_a_chinese_message_over_http_gets_chinese_text(
    demo_config: Any, demo_bot: Any
) -> None:
    client = await started_client(demo_config, demo_bot)
    try:
        body = await chat(client, new_sender(), "转人工")
        info = await (await client.get("/api/store")).json()
    finally:
        await client.close()
    assert body["action"] == "action_handoff"
    texts = [m["text"] for m in body["messages"] if m.get("text")]
    assert texts == [zh(demo_bot, "no_inbox_handoff", contact=zh(demo_bot, "contact"))]
    assert info["greeting"] == demo_bot.settings.greeting  # an English store greets in English


# ----------------------------------------------------------------- actions and escalation


@pytest.fixture
def zh_chat(tmp_path: Path) -> Iterator[Chat]:
    with open_book(make_store(tmp_path / "store"), tmp_path / "state.db") as book:
        chat = Chat(ActionRunner(executor=build_executor(book, CATALOG)))
        chat.slots["language"] = "zh"
        yield chat


async def test_the_actions_speak_the_language_slot(zh_chat: Chat) -> None:
    await zh_chat.run("action_order_status", "我的订单到哪了")
    assert zh_chat.text == CATALOGUE["zh"]["ask_identity"]
    await zh_chat.run("action_product_search", "有没有这件", [ent("product", TSHIRT.title)])
    assert zh_chat.text.startswith(f"{TSHIRT.title}：共 {len(TSHIRT.variants)} 个款式，")
    assert "有货" in zh_chat.text or "缺货" in zh_chat.text
    zh_chat.slots["language"] = "en"
    await zh_chat.run("action_product_search", "xyzzy plugh")
    assert zh_chat.text == CATALOGUE["en"]["product_not_found"]


def test_the_escalation_offer_is_in_the_reply_s_language() -> None:
    class Turn:
        text = "这服务太差了"
        action = "action_abstain"
        fallback = False
        slots: dict[str, Any] = {"failed_streak": 1}
        messages: list[dict[str, Any]] = [{"text": "…"}]

        class conv:
            sender = "s"

    turn = Turn()
    texts = Catalogue().for_language("zh")
    assert offer_handoff_if_needed(turn, texts=texts) == "two_failures"
    offer = turn.messages[-1]
    assert offer["text"] == CATALOGUE["zh"]["escalation_offer"]
    assert [b["title"] for b in offer["buttons"]] == ["转人工客服", "不用了，谢谢"]


@pytest.mark.parametrize(
    "text",
    ["this is too complicated, get me a human", "I want a real person", "can I get a human?",
     "human please", "I need a live agent", "Can I speak to an agent?",
     "connect me with someone from support"],
)  # fmt: skip
def test_english_requests_for_a_person(text: str) -> None:
    assert asks_for_person(text, rules_for("en"))


@pytest.mark.parametrize(
    "text",
    ["I don't want to talk to a human", "no need to talk to anyone, thanks",
     "is the agent available on weekends?", "get me a quote", "I want a refund",
     "the person who ordered it isn't me"],
)  # fmt: skip
def test_english_that_is_not_a_request_for_a_person(text: str) -> None:
    assert not asks_for_person(text, rules_for("en"))


@pytest.mark.parametrize(
    "text, wanted",
    [("show me your sunscreens", True), ("I'm looking for a tent", True),
     ("i need a new cleanser", True), ("给我看看防晒霜", True), ("我想买一个背包", True),
     ("do you sell tents?", False), ("how do I return shoes?", False),
     ("I need to return my order", False)],
)  # fmt: skip
def test_a_request_to_see_products(text: str, wanted: bool) -> None:
    assert asks_for_products(text, rules_for("zh" if text[0] > "~" else "en")) is wanted
