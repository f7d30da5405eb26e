"""The merchant tools measured: grounded product descriptions and FAQ learning.

Descriptions (``--part descriptions``, the default): every product of a store (or
the first ``--limit``) described by ``bot.merchant.describe`` with the chosen
chat backend, then measured: the share of kept sentences fully supported (each
re-checked by a fresh checker and resting on at least one record field: should
be 100 %), how many of the model's draft sentences the check dropped (and why),
how many sentences came from the model and how many from the templates, mean
description length in words, words per sentence (a simple readability figure),
and seconds per product (model load reported apart). Nothing is written to the
store: the drafts are not proposed.

    python scripts/bench_merchant_tools.py --llm-backend none
    nice -n 10 python scripts/bench_merchant_tools.py --llm-backend llama-cpp \\
        --llm-model qwen2.5-0.5b --limit 10 --json /tmp/descriptions.json

FAQ learning (``--part faq``): a copy of the store in a temporary folder, served
in-process with no chat model (answers are the store's own text), gets simulated
traffic: five planted topics the store does not answer (``PLANTED``: four
phrasings each from four customers, an agent answering three of the topics in a
handoff), questions it does answer, single out-of-scope messages and a handoff
about one customer's order. Then ``propose_faqs`` runs; a proposal whose questions
are mostly one planted topic's counts for that topic (precision: such proposals /
all proposals); the first one per topic is approved as proposed (the merchant
writes the answer where no agent gave one), the rest rejected; the store is
rebuilt and two held-out phrasings per topic, never seen in the traffic, are asked
before (on a throwaway log) and after approval.

    python scripts/bench_merchant_tools.py --part faq --json /tmp/faq.json
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEMO = ROOT / "knowledge_base" / "demo_store"


def _reason_kind(reason: str) -> str:
    """ "claim not in the record: waterproof" -> "claim"; "words the record ..." -> "words"."""
    head = reason.split(":")[0]
    if head.startswith("words the record"):
        return "unsupported words"
    if " is a " in reason and ", not a " in reason:
        return "value of another key"
    if reason.startswith("price ") and "not the price of a variant" in reason:
        return "wrong variant price"
    if reason.startswith("says "):
        return "wrong count or stock"
    if reason.startswith("states ") and "each variant has one" in reason:
        return "options stated as combined"
    return re.sub(r" not in the record$", "", head)


def _words(text: str, language: str) -> int:
    if language == "zh":
        return len(re.findall(r"[\u3400-\u9fff]", text))  # characters, for Chinese
    return len(text.split())


def load_generator(args: argparse.Namespace) -> tuple[Any, float]:
    """The chat backend the options name (None for "none") and its load time in seconds."""
    if args.llm_backend == "none":
        return None, 0.0
    from bot.answers.generation import load_generator as load

    started = time.perf_counter()
    generator = load(backend=args.llm_backend, model=args.llm_model, base_url=args.llm_base_url)
    return generator, time.perf_counter() - started


def bench_descriptions(args: argparse.Namespace) -> dict[str, Any]:
    """Describe the store's products and measure the descriptions (see the module docstring)."""
    from bot.merchant.claims import ClaimChecker
    from bot.merchant.describe import describe, description_language
    from bot.merchant.facts import record_of
    from knowledge_base.store import load_store

    store = load_store(args.store)
    products = store.products[: args.limit] if args.limit else store.products
    language = description_language(store.settings.language, args.lang)
    generator, load_seconds = load_generator(args)
    rows = []
    reasons: Counter[str] = Counter()
    kept_model: list[dict[str, Any]] = []
    for product in products:
        result = describe(
            product,
            currency=store.settings.currency,
            language=language,
            tone=args.tone,
            generator=generator,
            max_new_tokens=args.max_new_tokens,
        )
        checker = ClaimChecker(record_of(product, store.settings.currency, language))
        supported = sum(bool(s.rests_on) and checker.check(s.text).ok for s in result.sentences)
        model_drafted = [s for s in result.rejected if s.source == "model"]
        model_kept = [s for s in result.sentences if s.source == "model"]
        for s in model_drafted:
            reasons.update({_reason_kind(r) for r in s.reasons})
        kept_model += [
            {"product": product.title, "text": s.text, "rests_on": s.rests_on} for s in model_kept
        ]
        rows.append(
            {
                "product_id": product.id,
                "title": product.title,
                "sentences": len(result.sentences),
                "supported": supported,
                "model_kept": len(model_kept),
                "model_dropped": len(model_drafted),
                "template_dropped": sum(s.source == "template" for s in result.rejected),
                "words": _words(result.text, language),
                "seconds": round(result.seconds, 3),
                "error": result.error,
                "description": result.text,
                "dropped": [{"text": s.text, "reasons": s.reasons} for s in result.rejected],
            }
        )
        if not args.quiet:
            print(
                f"{product.title[:28]:>28}: {len(result.sentences)} sentences "
                f"({len(model_kept)} model), {len(model_drafted)} model sentences dropped, "
                f"{result.seconds:.1f} s",
                flush=True,
            )
    sentences = sum(r["sentences"] for r in rows)
    drafted = sum(r["model_kept"] + r["model_dropped"] for r in rows)
    return {
        "store": str(args.store),
        "products": len(rows),
        "language": language,
        "tone": args.tone,
        "generator": getattr(generator, "name", "none") if generator else "none",
        "load_seconds": round(load_seconds, 1),
        "sentences_kept": sentences,
        "supported_share": round(sum(r["supported"] for r in rows) / sentences, 4)
        if sentences
        else None,
        "model_sentences_drafted": drafted,
        "model_sentences_dropped": sum(r["model_dropped"] for r in rows),
        "model_sentences_kept": sum(r["model_kept"] for r in rows),
        "template_sentences_kept": sentences - sum(r["model_kept"] for r in rows),
        "template_sentences_dropped": sum(r["template_dropped"] for r in rows),
        "drop_reasons": dict(reasons.most_common()),
        "mean_words": round(statistics.mean(r["words"] for r in rows), 1),
        "words_per_sentence": round(sum(r["words"] for r in rows) / sentences, 1)
        if sentences
        else None,
        "seconds_per_product": round(statistics.mean(r["seconds"] for r in rows), 3),
        "seconds_per_product_max": round(max(r["seconds"] for r in rows), 3),
        "errors": sum(bool(r["error"]) for r in rows),
        "model_sentences_kept_list": kept_model,
        "rows": rows,
    }


# --------------------------------------------------------------------------- FAQ learning

# Topics the demo store has no answer for: six customer phrasings each (the first four
# are the traffic, the last two are held out and asked only after approval), and the
# agent's answer for those an agent answers in a handoff (None: nobody answers it, so
# the merchant writes the answer, here the one given second).
PLANTED: dict[str, tuple[list[str], str | None, str]] = {
    "gift wrapping": (
        [
            "Do you offer gift wrapping?",
            "Can you gift wrap my order?",
            "is gift wrap available for purchases",
            "Could you wrap the items as a present?",
            "do you do gift wrapping for birthdays",
            "can my package be wrapped as a gift",
        ],
        "Yes, we gift wrap any order for $5. Choose gift wrap at checkout and add a note.",
        "",
    ),
    "store pickup": (
        [
            "Do you have a physical store I can visit?",
            "Can I pick up my order in person?",
            "is there a shop where I can see the products",
            "Where is your retail store located?",
            "can I collect my order from your shop instead of delivery",
            "do you have a showroom I can go to",
        ],
        "We are an online-only store: there is no shop to visit and no pickup. Every order "
        "is delivered to the address you give.",
        "",
    ),
    "price matching": (
        [
            "Do you price match?",
            "Will you match a lower price from another store?",
            "I found it cheaper elsewhere, can you match that price",
            "do you have a price matching policy",
            "can you beat a competitor's price",
            "another shop sells this for less, will you match it",
        ],
        "We don't match other stores' prices, but if our own price drops within 14 days of "
        "your order we refund the difference.",
        "",
    ),
    "bulk orders": (
        [
            "Do you offer discounts on bulk orders?",
            "Can I buy wholesale from you?",
            "is there a discount if I order 50 units",
            "do you sell in bulk to businesses",
            "what's the price for large quantity orders",
            "I want to order for my company in bulk, any deals",
        ],
        None,
        "Orders of 20 or more of one item get 10% off; write to our team for a quote.",
    ),
    "mobile app": (
        [
            "Do you have a mobile app?",
            "Is there an app for iPhone?",
            "can I shop from an android app",
            "where can I download your app",
            "does your store have a phone app",
            "is your shop on the app store",
        ],
        None,
        "We have no app yet; our website works on every phone browser.",
    ),
}
TRAFFIC, HELD_OUT = 4, 2
# Traffic around the planted topics: questions the store answers, single out-of-scope
# messages, and a handoff about one customer's order (a proposal a merchant rejects).
ANSWERED = [
    "How long does shipping take?",
    "how much is delivery",
    "What is your return policy?",
    "can I cancel my order",
    "which payment methods do you accept",
    "do you ship outside the usa",
    "how can I track my order",
    "do your products have a warranty",
]
NOISE = [
    "what's the weather tomorrow",
    "tell me a joke",
    "who won the football game last night",
    "can you recommend a good movie",
    "what is the capital of france",
    "how do I bake bread",
]
ORDER_HANDOFF = (
    "I need help with my order #W2611340, it hasn't moved",
    "Hi James, your order #W2611340 left our warehouse yesterday; tracking 357962501027.",
)


def _unanswered(reply: Any) -> bool:
    from bot.storage.reports import FAILED_ACTIONS

    return bool(reply.fallback) or reply.action in FAILED_ACTIONS


async def _handoff(bot: Any, sender: str, question: str, answer: str) -> bool:
    """The customer asks, asks for a person; an agent answers and hands back. Whether the
    bot had left the question unanswered."""
    reply = await bot.handle(sender, question)
    await bot.handle(sender, "can I talk to a person please")
    bot.conversations.claim_handoff(sender, "Dana")
    bot.conversations.log_agent_message(sender, "Hi, let me check that for you.", "Dana")
    bot.conversations.log_agent_message(sender, answer, "Dana")
    await bot.hand_back(sender, "Dana")
    return _unanswered(reply)


async def _replay(bot: Any, questions: list[tuple[str, str]], tag: str) -> list[dict[str, Any]]:
    rows = []
    for n, (topic, text) in enumerate(questions):
        reply = await bot.handle(f"{tag}-{n}", text)
        rows.append(
            {
                "topic": topic,
                "text": text,
                "unanswered": _unanswered(reply),
                "action": reply.action,
                "source": reply.sources[0]["id"] if reply.sources else None,
            }
        )
    return rows


def _topic_of(proposal: dict[str, Any]) -> str | None:
    """The planted topic most of a proposal's questions come from (None: not planted)."""
    votes: Counter[str] = Counter()
    for question in proposal["questions"]:
        for topic, (phrasings, _, _) in PLANTED.items():
            if question in phrasings[:TRAFFIC]:
                votes[topic] += 1
    if not votes:
        return None
    topic, n = votes.most_common(1)[0]
    return topic if n * 2 > len(proposal["questions"]) else None


def bench_faq_learning(args: argparse.Namespace) -> dict[str, Any]:
    """Simulated traffic with planted topics, proposals, approval, rebuild, held-out replay."""
    import asyncio
    import copy
    import shutil
    import tempfile

    from bot.assemble import load_bot_sync
    from bot.config import load_config
    from bot.merchant.faq_learning import propose_faqs
    from bot.merchant.faq_proposals import FAQProposals
    from bot.storage.conversations import ConversationStore

    work = Path(tempfile.mkdtemp(prefix="bench-faq-"))
    try:
        store = Path(
            shutil.copytree(args.store, work / "store", ignore=shutil.ignore_patterns(".shopbot"))
        )
        config = load_config(
            store, llm_backend="none", db_path=work / "log.db", rate_limit_per_minute=0
        )
        t0 = time.perf_counter()
        bot = load_bot_sync(config, progress=False)
        build_seconds = time.perf_counter() - t0
        bot.agent_inbox = True  # agents answer handoffs here, as on a served store

        held_out = [(t, q) for t, (qs, _, _) in PLANTED.items() for q in qs[TRAFFIC:][:HELD_OUT]]
        traffic = [(t, q) for t, (qs, _, _) in PLANTED.items() for q in qs[:TRAFFIC]]

        async def simulate() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            before = copy.copy(bot)  # the held-out questions, asked now, must not be evidence
            before.conversations = ConversationStore(work / "replay-before.db")
            try:
                held_before = await _replay(before, held_out, "before")
            finally:
                before.conversations.close()
            rows = []
            for topic, (phrasings, agent_answer, _) in PLANTED.items():
                for n, text in enumerate(phrasings[:TRAFFIC]):
                    sender = f"{topic.replace(' ', '-')}-{n}"
                    if n == 0 and agent_answer:
                        failed = await _handoff(bot, sender, text, agent_answer)
                    else:
                        failed = _unanswered(await bot.handle(sender, text))
                    rows.append({"topic": topic, "text": text, "unanswered": failed})
            for n, text in enumerate(ANSWERED + NOISE):
                await bot.handle(f"other-{n}", text)
            await _handoff(bot, "order-customer", *ORDER_HANDOFF)
            return held_before, rows

        t0 = time.perf_counter()
        held_before, traffic_before = asyncio.run(simulate())
        traffic_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        run = propose_faqs(store, bot.conversations.db, bot.index, bot.calibration)
        propose_seconds = time.perf_counter() - t0
        bot.conversations.close()

        book = FAQProposals(store)
        matched: dict[str, list[dict[str, Any]]] = {}
        rows_out = []
        for p in run.proposed:
            topic = _topic_of(p)
            rows_out.append(
                {
                    "id": p["id"],
                    "topic": topic,
                    "question": p["question"],
                    "questions": p["questions"],
                    "answer": p["answer"],
                    "conversations": p["evidence"]["conversations"],
                    "warnings": p["warnings"],
                }
            )
            if topic is not None:
                matched.setdefault(topic, []).append(p)
        agent_answers_kept = 0
        approved = {}
        for topic, proposals in matched.items():
            first, *duplicates = proposals
            _, agent_answer, merchant_answer = PLANTED[topic]
            agent_answers_kept += bool(agent_answer) and first["answer"] == agent_answer
            # The merchant approves it as proposed, writing the answer nobody had given.
            done = book.approve(first["id"], answer=None if first["answer"] else merchant_answer)
            approved[topic] = done["faq_id"]
            for duplicate in duplicates:
                book.reject(duplicate["id"], note="duplicate")
        for p in book.pending():
            book.reject(p["id"], note="not a store question")

        t0 = time.perf_counter()
        bot = load_bot_sync(config, progress=False)  # the next build picks the entries up
        rebuild_seconds = time.perf_counter() - t0
        try:
            held_after = asyncio.run(_replay(bot, held_out, "after"))
            traffic_after = asyncio.run(_replay(bot, traffic, "again"))
            stats = book.stats(bot.conversations.db)
        finally:
            bot.conversations.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def rate(rows: list[dict[str, Any]]) -> float:
        return round(sum(r["unanswered"] for r in rows) / len(rows), 3) if rows else 0.0

    from_entry = [
        r for r in held_after if not r["unanswered"] and r["source"] == approved.get(r["topic"])
    ]
    planted_proposals = sum(len(v) for v in matched.values())
    return {
        "store": str(args.store),
        "planted_topics": len(PLANTED),
        "topics_with_agent_answer": sum(a is not None for _, a, _ in PLANTED.values()),
        "traffic_messages": len(traffic) + len(ANSWERED) + len(NOISE) + 1,
        "threshold": run.threshold.value,
        "threshold_source": run.threshold.source,
        "proposals": len(run.proposed),
        "proposals_of_planted_topics": planted_proposals,
        "precision": round(planted_proposals / len(run.proposed), 3) if run.proposed else None,
        "planted_topics_found": len(matched),
        "duplicate_proposals": planted_proposals - len(matched),
        "agent_answers_kept": agent_answers_kept,
        "already_answered_skipped": len(run.answered),
        "too_rare_skipped": run.rare,
        "unanswered_rate_traffic_before": rate(traffic_before),
        "unanswered_rate_traffic_after": rate(traffic_after),
        "held_out": len(held_out),
        "unanswered_rate_held_out_before": rate(held_before),
        "unanswered_rate_held_out_after": rate(held_after),
        "held_out_answered_from_approved_entry": len(from_entry),
        "answered_after_approval": stats.get("answered_after_approval"),
        "build_seconds": round(build_seconds, 1),
        "traffic_seconds": round(traffic_seconds, 1),
        "propose_seconds": round(propose_seconds, 1),
        "rebuild_seconds": round(rebuild_seconds, 1),
        "rows": rows_out,
        "skipped_as_answered": run.answered,
        "held_out_rows": {"before": held_before, "after": held_after},
        "traffic_rows": {"before": traffic_before, "after": traffic_after},
    }


PARTS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "descriptions": bench_descriptions,
    "faq": bench_faq_learning,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=sorted(PARTS), default="descriptions")
    parser.add_argument("--store", type=Path, default=DEMO)
    parser.add_argument(
        "--llm-backend", default="none", choices=["none", "llama-cpp", "transformers", "openai"]
    )
    parser.add_argument("--llm-model", default="qwen2.5-0.5b")
    parser.add_argument("--llm-base-url", default=None)
    parser.add_argument("--limit", type=int, default=0, help="only the first N products")
    parser.add_argument("--lang", choices=["en", "zh"], default=None)
    parser.add_argument("--tone", default="friendly", choices=["friendly", "concise", "premium"])
    parser.add_argument("--max-new-tokens", type=int, default=220)
    parser.add_argument("--json", type=Path, help="write the full result here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = {"command": " ".join(["python", *sys.argv]), "part": args.part}
    result |= PARTS[args.part](args)
    result["seconds"] = round(time.perf_counter() - started, 1)
    details = ("rows", "model_sentences_kept_list", "held_out_rows", "traffic_rows")
    details += ("skipped_as_answered",)
    summary = {k: v for k, v in result.items() if k not in details}
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
