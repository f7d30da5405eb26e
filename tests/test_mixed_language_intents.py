"""A Chinese message on an English store is understood as a Chinese store understands it.

An English store's intent model reads English with an English encoder; the build
also trains a small Chinese model beside it (``intents/languages/zh``, the lexical
head on the shipped Chinese examples), which reads the messages whose script is
Chinese for the requests that mean the same in every store: cancel, return,
refund, order status, a person, small talk, yes and no. The store here is a fresh
copy of the English demo store, built in tmp_path like any merchant's store.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from bot.nlu.intent_model import LANGUAGES_DIR, IntentClassifier, LanguageIntentModel
from bot.nlu.language import script_language
from knowledge_base import build
from knowledge_base.build import SHIPPED_DATA, ensure_built, train_language_model
from tests.conftest import copy_demo_store
from training import intent_data

ORDER_TO_CANCEL, ITS_EMAIL = "#W8955613", "olivia.lopez8783@example.com"  # pending


@pytest.fixture(scope="module")
def english_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo_store(tmp_path_factory.mktemp("mixed") / "english")


@pytest.fixture(scope="module")
def bot(english_store: Path) -> Any:
    from bot.assemble import load_bot_sync
    from bot.config import load_config

    config = load_config(english_store, llm_backend="none", rate_limit_per_minute=0)
    loaded = load_bot_sync(config, progress=False)
    loaded.agent_inbox = False  # no people online: a handoff says how to reach the store
    yield loaded
    loaded.conversations.close()


def zh(bot: Any, key: str, **values: Any) -> str:
    return bot.catalogue.text(key, "zh", **values)


async def verified(bot: Any) -> str:
    sender = f"mixed-{uuid4().hex[:8]}"
    reply = await bot.handle(sender, f"my email is {ITS_EMAIL}")
    assert reply.action == "action_verify_customer"
    return sender


def test_the_english_store_s_build_holds_a_chinese_message_model(english_store: Path) -> None:
    artifacts = ensure_built(english_store, progress=False)
    assert set(artifacts.manifest["language_intent_models"]) == {"zh"}
    folder = artifacts.intents_dir / LANGUAGES_DIR / "zh"
    model = LanguageIntentModel.load(folder)
    assert model.language == "zh" and "cancel_order" in model.intents
    loaded = IntentClassifier.load(artifacts.intents_dir, artifacts.encoder)
    assert set(loaded.languages) == {"zh"}


@pytest.mark.parametrize(
    ("text", "language"),
    [("cancel my order", None), ("取消订单", "zh"), ("我的订单 #W8955613 到哪了", "zh"),
     ("where is 我的 order", None), ("ok", None)],
)  # fmt: skip
def test_only_a_message_written_in_chinese_is_read_by_the_chinese_model(
    text: str, language: str | None
) -> None:
    assert script_language(text) == language


@pytest.mark.parametrize(
    ("text", "intent"),
    [("取消订单", "cancel_order"), ("取消吧", "cancel_order"), ("我要退货", "return_order"),
     ("我要退款", "get_refund"), ("转人工", "contact_human_agent"), ("订单到哪了", "track_order"),
     ("你好", "greet"), ("谢谢", "thanks"), ("好的", "affirm"), ("不用了", "deny"),
     ("再见", "goodbye")],
)  # fmt: skip
def test_short_chinese_requests_get_their_intent_on_the_english_store(
    bot: Any, text: str, intent: str
) -> None:
    parse = bot.parse(text)
    assert parse["intent"]["name"] == intent and parse["intent"]["confidence"] >= 0.5


def test_a_chinese_question_about_the_store_stays_with_the_store_s_model(bot: Any) -> None:
    # Off topic for the Chinese model too: the store's model and index decide, as before.
    assert (
        bot.parse("今天天气怎么样")["intent"]["name"]
        == bot.nlu.classifier.predict(["今天天气怎么样"])[0][0][0]
    )


async def test_a_chinese_cancellation_on_the_english_store_runs_the_cancel_flow(
    bot: Any,
) -> None:
    sender = await verified(bot)
    which = await bot.handle(sender, "取消订单")
    assert which.action == "action_cancel_order"
    assert which.text == zh(bot, "ask_order_to_cancel", orders=ORDER_TO_CANCEL)
    reason = await bot.handle(sender, ORDER_TO_CANCEL)
    assert zh(bot, "ask_cancel_reason", order_id=ORDER_TO_CANCEL) in reason.text
    question = await bot.handle(sender, "不再需要了")
    assert question.text.startswith(zh(bot, "cancel_confirm", order_id=ORDER_TO_CANCEL))
    kept = await bot.handle(sender, "不用了")
    assert kept.text == zh(bot, "deny_change")
    assert bot.order_book.get(ORDER_TO_CANCEL).status == "pending"
    again = await bot.handle(sender, "取消吧")
    assert again.action == "action_cancel_order"


async def test_a_chinese_yes_confirms_the_cancellation(bot: Any) -> None:
    sender = await verified(bot)
    await bot.handle(sender, f"取消订单 {ORDER_TO_CANCEL}")
    question = await bot.handle(sender, "下错单了")
    assert question.text.startswith(zh(bot, "cancel_confirm", order_id=ORDER_TO_CANCEL))
    done = await bot.handle(sender, "好的")
    assert done.text.startswith(zh(bot, "cancel_done", order_id=ORDER_TO_CANCEL, refund=""))
    assert bot.order_book.get(ORDER_TO_CANCEL).status == "cancelled"


async def test_a_chinese_request_for_a_person_hands_off(bot: Any) -> None:
    reply = await bot.handle(f"mixed-{uuid4().hex[:8]}", "转人工")
    assert reply.action == "action_handoff" and reply.handoff


async def test_chinese_thanks_and_order_status_on_the_english_store(bot: Any) -> None:
    sender = await verified(bot)
    status = await bot.handle(sender, "订单到哪了")
    assert status.action == "action_order_status"
    thanks = await bot.handle(sender, "谢谢")
    assert thanks.action == "utter_thanks" and thanks.text == zh(bot, "thanks")


def test_a_language_model_needs_examples() -> None:
    with pytest.raises(ValueError, match="no training examples"):
        train_language_model("zh", [])


def test_new_chinese_examples_refresh_only_the_english_build_s_chinese_model(
    english_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Path(shutil.copytree(english_store, tmp_path / "store", symlinks=True))
    before = ensure_built(store, progress=False)
    assert not before.rebuilt  # the copy's build (in its .shopbot) is current
    data = Path(shutil.copytree(SHIPPED_DATA, tmp_path / "data"))
    with (data / "zh" / "intents.csv").open("a", encoding="utf-8") as fh:
        fh.write("麻烦把这一单撤销掉,cancel_order\n")
    monkeypatch.setattr(build, "SHIPPED_DATA", data)
    monkeypatch.setattr(intent_data, "BUILTIN_DATA_DIR", data)
    after = ensure_built(store, progress=False)
    assert after.rebuilt
    # The store's index and model are the same build; only the Chinese model is new.
    assert after.manifest["built_at"] == before.manifest["built_at"]
    new, old = (a.manifest["language_intent_models"]["zh"]["data"] for a in (after, before))
    assert new["zh/intents.csv"] != old["zh/intents.csv"]
    folder = after.intents_dir / LANGUAGES_DIR / "zh"
    assert (
        LanguageIntentModel.load(folder).predict(["麻烦把这一单撤销掉"])[0][0][0] == "cancel_order"
    )
    assert not ensure_built(store, progress=False).rebuilt
