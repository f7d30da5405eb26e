"""Per-store answer calibration (knowledge_base/calibration.py) and the curated-answer path.

Real stores, the real encoder and index: the operating points must come from
each store's own data, so two stores whose scores run differently get
different points, and a store too small to learn from gets a warning and the
conservative floor.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from knowledge_base.calibration import CONSERVATIVE, Calibration, calibrate, conservative
from knowledge_base.index import KnowledgeIndex, build_index
from knowledge_base.store import load_store

STORES = Path(__file__).resolve().parent / "data" / "stores"


@pytest.fixture(scope="module")
def encoder():  # type: ignore[no-untyped-def]
    from knowledge_base.embeddings import get_encoder

    return get_encoder()


def _index(store_dir: Path, out: Path, encoder) -> KnowledgeIndex:  # type: ignore[no-untyped-def]
    build_index(load_store(store_dir).documents(), encoder, out, progress=False)
    return KnowledgeIndex.load(out, encoder)


@pytest.fixture(scope="module")
def two_stores(tmp_path_factory: pytest.TempPathFactory, encoder):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("calibration")
    faq_only = _index(STORES / "faq_coffee", root / "coffee", encoder)
    pages_only = _index(STORES / "policy_furniture", root / "furniture", encoder)
    return calibrate(faq_only), calibrate(pages_only)


def test_each_store_gets_its_own_operating_points(two_stores) -> None:
    coffee, furniture = two_stores
    for cal in (coffee, furniture):
        assert not cal.conservative and not cal.warnings
        points = cal.summary()["operating_points"]
        assert 0 < points["clarify"] <= points["answer"] <= points["quote"] < 1
        held_out = cal.validation["held_out"]
        # Judged on the half of the store's questions (and out-of-scope ones) not fitted on.
        assert held_out["answerable_answered"] >= 0.8, held_out
        assert held_out["out_of_scope_answered"] <= 0.1, held_out
    # An FAQ-only store and a store of long policy pages put answers at different
    # scores: the same constants could not serve both.
    assert coffee.weights != furniture.weights
    assert coffee.summary()["operating_points"] != furniture.summary()["operating_points"]


def test_decisions_follow_the_points(two_stores) -> None:
    from tests.conftest import make_hit

    coffee, _ = two_stores
    strong = [
        make_hit("a", "faq", "Q", "A", dense=0.97),
        make_hit("b", "faq", "Q2", "B", dense=0.3),
    ]
    weak = [make_hit("a", "faq", "Q", "A", dense=0.05), make_hit("b", "faq", "Q2", "B", dense=0.04)]
    assert coffee.decide(strong)[0] == "quote"
    assert coffee.decide(weak)[0] == "abstain"
    assert coffee.decide([])[0] == "abstain"
    # Without a model to compose, an answer must reach the quote point.
    p = coffee.probability(strong)
    between = Calibration(**{**coffee.to_dict(), "answer": p - 0.01, "quote": p + 0.01})
    assert between.decide(strong, can_compose=True)[0] == "answer"
    assert between.decide(strong, can_compose=False)[0] != "answer"


def test_a_tiny_store_gets_a_warning_and_the_conservative_floor(tmp_path: Path, encoder) -> None:
    root = tmp_path / "tiny"
    root.mkdir()
    rows = [
        {"question": "Do you ship to Canada?", "answer": "Yes, in 5 to 7 business days."},
        {"question": "Can I return an item?", "answer": "Yes, within 30 days."},
        {"question": "Do you have gift cards?", "answer": "Yes, from $10 to $200."},
    ]
    (root / "faq.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cal = calibrate(_index(root, tmp_path / "index", encoder))
    assert cal.conservative
    assert any("too few to calibrate" in w for w in cal.warnings)
    assert cal.answer >= CONSERVATIVE["answer"] and cal.quote >= CONSERVATIVE["quote"]


def test_a_build_records_the_calibration_and_warns_for_a_tiny_store(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from knowledge_base.build import ensure_built

    root = tmp_path / "tiny"
    root.mkdir()
    (root / "faq.csv").write_text('question,answer\n"Do you ship abroad?","Only in the UK."\n')
    with caplog.at_level("WARNING"):
        artifacts = ensure_built(root, progress=False)
    assert artifacts.manifest["calibration"]["conservative"] is True
    assert any("too few to calibrate" in r.getMessage() for r in caplog.records)
    saved = Calibration.load(artifacts.calibration_path)
    assert (
        saved.conservative
        and saved.to_dict() == Calibration.load(artifacts.calibration_path).to_dict()
    )


def test_an_old_build_without_calibration_is_served_conservatively(tmp_path: Path) -> None:
    cal = Calibration.load(tmp_path / "missing.json")
    assert cal.conservative and cal.warnings
    assert cal.decide([])[0] == "abstain"
    assert conservative().answer == CONSERVATIVE["answer"]


def test_a_docs_only_store_loads(tmp_path: Path) -> None:
    root = tmp_path / "pages"
    shutil.copytree(STORES / "policy_furniture" / "docs", root / "docs")
    store = load_store(root)
    assert store.passages and not store.faqs and not store.products


async def test_the_merchants_own_answer_is_sent_for_a_confident_faq_match(demo_bot) -> None:
    import uuid

    # The demo page's own suggested question once got "Did you mean one of these?".
    faq = next(d for d in demo_bot.index.documents if d.title == "What is your return policy?")
    reply = await demo_bot.handle(f"cal-{uuid.uuid4().hex[:8]}", "what is your return policy")
    assert reply.action == "action_answer_curated"
    assert reply.messages[0]["text"] == faq.answer
    assert [s["id"] for s in reply.sources] == [faq.id]
    assert not reply.fallback


async def test_a_merchant_who_turns_curated_answers_off_gets_composed_ones(demo_bot) -> None:
    import uuid

    from tests.conftest import model_answers

    with model_answers(demo_bot):  # curated_answers = false
        assert demo_bot.config.curated_answers is False
        reply = await demo_bot.handle(f"cal-{uuid.uuid4().hex[:8]}", "what is your return policy")
    assert reply.action in ("action_answer", "action_answer_busy"), reply.action
    assert reply.sources and reply.messages[0]["text"]
    assert demo_bot.config.curated_answers is True  # restored: the next turn quotes again


async def test_streamed_curated_answers_arrive_whole_at_once(demo_bot) -> None:
    import uuid

    faq = next(d for d in demo_bot.index.documents if d.type == "faq")
    events = [e async for e in demo_bot.stream_turn(f"cal-{uuid.uuid4().hex[:8]}", faq.title)]
    tokens = [e["text"] for e in events if e["type"] == "token"]
    done = events[-1]["reply"]
    if done.action == "action_answer_curated":
        assert tokens == [faq.answer]
    else:  # the question itself routed elsewhere (an action): no curated text streamed
        assert faq.answer not in tokens


def test_an_faq_with_an_empty_answer_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    from knowledge_base.store_files import StoreError

    root = tmp_path / "shop"
    root.mkdir()
    (root / "faq.jsonl").write_text(
        '{"question": "Do you ship?", "answer": "Yes."}\n{"question": "Returns?", "answer": " "}\n'
    )
    with pytest.raises(
        StoreError, match=r"faq\.jsonl line 2: field 'answer' is required but empty"
    ):
        load_store(root)


async def test_a_refused_reply_below_the_quote_point_abstains_instead_of_quoting(
    demo_bot,
) -> None:
    """A near miss the model answers with made-up facts: no quotation of the wrong entry."""
    import uuid

    from tests.test_generation import ScriptedGenerator

    question = "what will the weather be like in Leipzig this weekend?"
    hits = demo_bot.index.search(question, 5)
    decision, p = demo_bot.calibration.decide(hits)
    saved = demo_bot.answerer.generator, demo_bot.calibration.answer
    # Make the bot compose for this question whatever the store's points are.
    demo_bot.calibration.answer = min(demo_bot.calibration.answer, p)
    demo_bot.answerer.generator = ScriptedGenerator(
        ["It will be sunny in Leipzig on Saturday with 25 degrees and light wind."]
    )
    try:
        if demo_bot.calibration.decide(hits)[0] != "answer":
            pytest.skip(f"the question reaches the quote point on this store ({decision})")
        reply = await demo_bot.handle(f"cal-{uuid.uuid4().hex[:8]}", question)
    finally:
        demo_bot.answerer.generator, demo_bot.calibration.answer = saved
    assert reply.action == "action_abstain", reply
    assert "25" not in reply.text and "sunny" not in reply.text
    assert hits[0].answer[:40] not in reply.text  # the near miss is not quoted either
    assert any(b["payload"] == "/handoff" for m in reply.messages for b in m.get("buttons", []))
