"""The model's references to its prompt ("According to Passage 2, ...") never reach the customer."""

from __future__ import annotations

import pytest

from bot.answers.answerer import KnowledgeAnswerer
from bot.answers.attribution import strip_attribution
from knowledge_base.store import StoreSettings
from tests.conftest import make_hit
from tests.test_generation import HITS, NORTHWIND, ScriptedGenerator, shown_text


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("According to Passage 2, returns are accepted within 30 days.",
         "Returns are accepted within 30 days."),
        ("According to passages 1 and 3, we ship worldwide.", "We ship worldwide."),
        ("Based on the passages, refunds take 5 to 7 business days.",
         "Refunds take 5 to 7 business days."),
        ("Based on the information provided, we do not ship to Canada.",
         "We do not ship to Canada."),
        ("Based on the passages provided, I can tell you that refunds take 5 days.",
         "Refunds take 5 days."),
        ("As stated in Passage 1, gift cards are refunded immediately.",
         "Gift cards are refunded immediately."),
        ("From the store information, our support hours are 9 to 5.",
         "Our support hours are 9 to 5."),
        ("According to [2], returns are free.", "Returns are free."),
        ("Passage 2 states that refunds take 5 days.", "Refunds take 5 days."),
        ("Sure! Based on the passages, we ship free.", "Sure! We ship free."),
        ("Yes, according to passage 2, returns are free.", "Yes, returns are free."),
        ("According to passage 1, iPhone cases ship free.", "iPhone cases ship free."),
    ],
)  # fmt: skip
def test_english_leading_attribution_is_cut_and_recapitalised(sentence, expected) -> None:
    assert strip_attribution(sentence) == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Returns are free (Passage 1).", "Returns are free."),
        ("Returns are free (see Passage 1, Refunds).", "Returns are free."),
        ("Returns are free [2].", "Returns are free."),
        ("Returns are free [1][2], and refunds are quick.", "Returns are free, and refunds are quick."),
        ("Returns are accepted within 30 days, as stated in passage 2.",
         "Returns are accepted within 30 days."),
        ("Refunds, as mentioned in the passages, take 5 to 7 business days.",
         "Refunds take 5 to 7 business days."),
        ("The fee is listed in passage 2 as 5%.", "The fee is listed as 5%."),
    ],
)  # fmt: skip
def test_english_inline_citations_are_cut(sentence, expected) -> None:
    assert strip_attribution(sentence) == expected


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("根据 Passage 3，花呗12期的手续费是按照支付宝页面显示的费率收取。",
         "花呗12期的手续费是按照支付宝页面显示的费率收取。"),
        ("根据提供的信息，西藏地区实付满199元包邮。", "西藏地区实付满199元包邮。"),
        ("根据资料，我们支持七天无理由退货。", "我们支持七天无理由退货。"),
        ("根据段落2，运费为10元。", "运费为10元。"),
        ("根据第2段，运费为10元。", "运费为10元。"),
        ("根据上述信息，运费为10元。", "运费为10元。"),
        ("从提供的信息来看，我们不支持货到付款。", "我们不支持货到付款。"),
        ("根据 Passage 3 的内容，花呗可以分期。", "花呗可以分期。"),
        ("资料显示，运费为10元。", "运费为10元。"),
        ("好的！根据资料，运费为10元。", "好的！运费为10元。"),
        ("运费为10元（见段落2）。", "运费为10元。"),
        ("运费为10元【2】。", "运费为10元。"),
        ("运费为10元，如段落2所述。", "运费为10元。"),
    ],
)  # fmt: skip
def test_chinese_attribution_is_cut(sentence, expected) -> None:
    assert strip_attribution(sentence) == expected


@pytest.mark.parametrize(
    "sentence",
    [
        # The store speaking about its own rules or the customer's things.
        "According to our policy, returns are accepted within 30 days.",
        "According to our records, your order shipped on Monday.",
        "According to the return policy, items must be unworn.",
        "Based on your order, you qualify for free shipping.",
        "In the settings, you can change your password.",
        "In this context, we recommend the larger size.",
        "From the warehouse, orders ship within 2 days.",
        "The passages do not mention international shipping.",
        "Sizes [S, M, L] are available.",
        "See step (2) below.",
        "根据订单状态，您的包裹已发货。",
        "根据您的尺码，建议选择M码。",
        "根据您提供的信息，订单已取消。",
        "根据商品信息，这款是纯棉的。",
        "根据相关规定，退款将在7天内到账。",
        "Refunds take 5 to 7 business days.\n",
    ],
)
def test_normal_sentences_stay_exactly_as_they_are(sentence) -> None:
    assert strip_attribution(sentence) == sentence


@pytest.mark.parametrize(
    "sentence",
    ["According to the passages.", "Based on the information provided:\n", "根据提供的信息。"],
)
def test_sentence_of_only_attribution_becomes_empty(sentence) -> None:
    assert strip_attribution(sentence) == ""


def test_whitespace_around_a_streamed_sentence_is_kept() -> None:
    assert strip_attribution("According to Passage 2, refunds are quick. ") == (
        "Refunds are quick. "
    )


def test_non_text_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="needs a str"):
        strip_attribution(None)  # type: ignore[arg-type]


async def test_answerer_streams_reply_without_passage_reference() -> None:
    pieces = [
        "According to Passage 2, refunds go back",
        " to your card in 5 to 7 business days. ",
        "Gift card orders are refunded immediately (Passage 1).",
    ]
    answerer = KnowledgeAnswerer(ScriptedGenerator(pieces))
    events = [ev async for ev in answerer.stream("How long do refunds take?", HITS, [], NORTHWIND)]
    final = events[-1]
    assert [e["type"] for e in events] == ["token", "token", "final"]
    expected = (
        "Refunds go back to your card in 5 to 7 business days. "
        "Gift card orders are refunded immediately."
    )
    assert final["fallback"] is False and final["grounded"] is True
    assert final["text"] == expected == shown_text(events)
    # The model's own words are kept for logs and fine-tuning.
    assert final["model_text"] == "".join(pieces)


async def test_answerer_cuts_chinese_attribution_before_the_customer_sees_it() -> None:
    hit = make_hit(
        "doc:shipping#tibet",
        "passage",
        "偏远地区运费",
        "西藏、新疆地区实付满199元包邮，未满199元收取运费20元。",
    )
    reply = "根据提供的信息，西藏地区实付满199元包邮。"
    answerer = KnowledgeAnswerer(ScriptedGenerator([reply]))
    settings = StoreSettings(name="小店", currency="CNY")
    final = await answerer.answer("西藏包邮吗？", [hit], [], settings)
    assert final["fallback"] is False
    assert final["text"] == "西藏地区实付满199元包邮。"
