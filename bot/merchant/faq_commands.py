"""``shopbot faq``: FAQ entries learned from handoffs and unanswered questions.

    shopbot faq propose --store DIR [--db PATH | --database-url URL] [--min-conversations 2]
    shopbot faq list --store DIR [--all] [--json]
    shopbot faq edit ID --store DIR [--question "..."] [--answer "..."]
    shopbot faq approve ID --store DIR [--question "..."] [--answer "..."]
    shopbot faq reject ID --store DIR [--note "why"]
    shopbot faq stats --store DIR [--db PATH | --database-url URL] [--json]

``propose`` reads the conversation log and adds proposals
(bot/merchant/faq_learning.py); only ``approve`` (or Approve on
``/admin/faq-proposals``) writes an entry into the store's FAQ file, which the
next ``shopbot build`` (or server start) indexes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_commands(sub: Any) -> None:
    """Add ``shopbot faq ...`` to the command line's subparsers."""
    p = sub.add_parser(
        "faq", help="FAQ entries learned from handoffs and unanswered questions, for approval"
    )
    fsub = p.add_subparsers(dest="faq_command", required=True)

    def store(q: argparse.ArgumentParser, log: bool = False) -> None:
        q.add_argument("--store", type=Path, help="store directory (default: the demo store)")
        q.add_argument("--config", type=Path, help="a TOML config file")
        if log:
            g = q.add_mutually_exclusive_group()
            g.add_argument("--db", dest="db_path", type=Path, help="conversation database file")
            g.add_argument("--database-url", help="PostgreSQL URL of the conversation log")
        q.add_argument("--json", action="store_true", help="print JSON")

    q = fsub.add_parser("propose", help="propose FAQ entries from the conversation log")
    store(q, log=True)
    q.add_argument(
        "--min-conversations",
        type=int,
        default=2,
        help="customers who must have asked an unanswered question (default 2)",
    )
    q = fsub.add_parser("list", help="show the proposals (waiting ones unless --all)")
    store(q)
    q.add_argument("--all", action="store_true", help="decided ones too")
    for name, what in (
        ("edit", "save a changed question or answer"),
        ("approve", "add the entry to the store's FAQ"),
    ):
        q = fsub.add_parser(name, help=what)
        q.add_argument("id", help="the proposal id (shopbot faq list)")
        store(q)
        q.add_argument("--question", help="the question as it should read")
        q.add_argument("--answer", help="the answer as it should read")
    q = fsub.add_parser("reject", help="reject a proposal; the store is not changed")
    q.add_argument("id", help="the proposal id (shopbot faq list)")
    store(q)
    q.add_argument("--note", default="", help="why")
    q = fsub.add_parser("stats", help="proposals, decisions, questions approved entries answered")
    store(q, log=True)
    p.set_defaults(func=cmd_faq)


def cmd_faq(args: argparse.Namespace) -> int:
    """Dispatch ``shopbot faq ...``."""
    from bot.assemble import command_config
    from bot.merchant.faq_proposals import FAQProposals

    config = command_config(args)
    book = FAQProposals(config.store_dir)
    command = args.faq_command
    if command == "propose":
        return _propose(args, config, book)
    if command == "list":
        return _list(book, args.all, args.json)
    if command == "stats":
        return _stats(args, config, book)
    if command == "reject":
        p = book.reject(args.id, note=args.note)
        print(f"rejected {p['id']} ({p['question']!r}); the store was not changed")
        return 0
    if command == "edit":
        p = book.edit(args.id, question=args.question, answer=args.answer)
        print(f"saved {p['id']}: {p['question']!r} -> {p['answer'][:80]!r} (not approved yet)")
        return 0
    p = book.approve(args.id, question=args.question, answer=args.answer)
    print(
        f"approved {p['id']}: {p['question']!r} is FAQ entry {p['faq_id']} in {p['faq_file']}"
        + (f" (previous file kept as {p['backup']})" if p.get("backup") else "")
        + f". Rebuild or restart the server to serve it: shopbot build --store {config.store_dir}"
    )
    return 0


def _open_log(config: Any) -> Any:
    """The conversation log, read-only (ValueError naming the file when there is none):
    ``--database-url``, ``--db``, or the store's own (``STORE/.shopbot/shopbot.db``)."""
    from bot.storage.db import open_database
    from knowledge_base.cache import conversation_db_path

    location = config.database_url or config.db_path
    location = location or conversation_db_path(config.store_dir)
    if not config.database_url and not Path(location).is_file():
        raise ValueError(
            f"no conversation log at {location}: serve the store first, or pass --db FILE "
            "(or --database-url URL)"
        )
    return open_database(location, read_only=True)


def _propose(args: argparse.Namespace, config: Any, book: Any) -> int:
    from bot.merchant.faq_learning import propose_faqs
    from knowledge_base.build import ensure_built
    from knowledge_base.calibration import Calibration
    from knowledge_base.index import KnowledgeIndex

    db = _open_log(config)  # first: no log, no build
    try:
        artifacts = ensure_built(config.store_dir, progress=not args.json)
        index = KnowledgeIndex.load(artifacts.index_dir, artifacts.encoder)
        calibration = Calibration.load(artifacts.calibration_path)
        run = propose_faqs(
            config.store_dir,
            db,
            index,
            calibration,
            min_conversations=args.min_conversations,
            book=book,
        )
    finally:
        db.close()
    if args.json:
        print(json.dumps({**run.summary(), "proposals": run.proposed}, ensure_ascii=False))
        return 0
    t = run.threshold
    print(
        f"read {run.questions} questions ({run.handoffs} resolved handoffs); {run.clusters} "
        f"topics at similarity >= {t.value:.3f} (from {t.reference} {t.source} questions)"
    )
    for p in run.proposed:
        ev = p["evidence"]
        answer = p["answer"][:70] or "(no answer yet: write one)"
        print(f"  {p['id']}  {p['question']!r}  {ev['conversations']} conversations -> {answer}")
    for skipped in run.answered:
        print(f"  already answered by {skipped['faq']['id']}: {skipped['question']!r}")
    print(
        f"{len(run.proposed)} new proposals, {len(run.merged)} updated, {run.known} known, "
        f"{run.rare} asked by too few customers. Review: shopbot faq list, or /admin/faq-proposals"
    )
    return 0


def _list(book: Any, show_all: bool, as_json: bool) -> int:
    rows = book.all() if show_all else book.pending()
    for p in rows:
        if as_json:
            print(json.dumps(p, ensure_ascii=False))
            continue
        ev = p.get("evidence", {})
        print(f"{p['id']}  [{p['status']}]  {p['question']}")
        print(
            f"    {ev.get('conversations', 0)} conversations, {len(ev.get('handoffs', []))} "
            f"handoffs; answer: {p['answer'] or '(none yet)'}"
        )
        for variant in p.get("questions", [])[1:4]:
            print(f"    also asked: {variant}")
        for warning in p.get("warnings", []):
            print(f"    ! {warning}")
    if not rows and not as_json:
        print(f"(no {'' if show_all else 'waiting '}FAQ proposals in {book.path})")
    return 0


def _stats(args: argparse.Namespace, config: Any, book: Any) -> int:
    try:
        db = _open_log(config)
    except ValueError:
        db = None  # never served: the decisions are counted all the same
    try:
        stats = book.stats(db)
    finally:
        if db is not None:
            db.close()
    if args.json:
        print(json.dumps(stats, ensure_ascii=False))
        return 0
    print(
        f"{stats['proposals']} proposals: {stats['waiting']} waiting, {stats['approved']} "
        f"approved ({stats['approved_after_edit']} after an edit), {stats['rejected']} rejected; "
        f"{stats['from_handoffs']} with an agent's answer"
    )
    if "answered_after_approval" in stats:
        print(f"approved entries answered {stats['answered_after_approval']} later questions")
        for faq_id, n in stats["answered_by_entry"].items():
            print(f"    {faq_id}: {n}")
    return 0
