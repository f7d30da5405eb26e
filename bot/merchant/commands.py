"""``shopbot describe``: draft grounded product descriptions, list them, approve or reject one.

    shopbot describe --store DIR --product ID [--product ID2] [--lang zh] [--tone concise]
    shopbot describe --store DIR --all [--llm-backend none]
    shopbot describe --store DIR --list
    shopbot describe --store DIR --approve PROPOSAL_ID
    shopbot describe --store DIR --reject PROPOSAL_ID [--note "why"]

Drafts go to the store's proposals file (bot/merchant/proposals.py); only
``--approve`` (or Approve on ``/admin/descriptions``) writes a description into
the products file.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bot.merchant.templates import TONES


def add_commands(sub: Any) -> None:
    """Add ``shopbot describe`` and ``shopbot faq`` to the command line's subparsers."""
    p = sub.add_parser(
        "describe", help="draft grounded product descriptions for approval; approve or reject"
    )
    p.add_argument("--store", type=Path, help="store directory (default: the bundled demo store)")
    p.add_argument("--config", type=Path, help="a TOML config file")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--product", action="append", metavar="ID", help="a product id (repeatable)")
    what.add_argument("--all", action="store_true", help="every product of the store")
    what.add_argument("--list", action="store_true", help="show the proposals")
    what.add_argument("--approve", metavar="PROPOSAL_ID", help="write this proposal into the store")
    what.add_argument("--reject", metavar="PROPOSAL_ID", help="reject this proposal")
    p.add_argument("--lang", choices=["en", "zh"], help="default: the store's language")
    p.add_argument("--tone", choices=list(TONES), default="friendly")
    p.add_argument("--note", default="", help="why a proposal is rejected (with --reject)")
    p.add_argument(
        "--llm-backend", dest="llm_backend", choices=["transformers", "llama-cpp", "openai", "none"]
    )
    p.add_argument("--llm-model", dest="llm_model", help="qwen2.5-0.5b, smollm2-135m, or a path")
    p.add_argument("--llm-base-url", dest="llm_base_url", help="OpenAI-compatible endpoint")
    p.add_argument("--json", action="store_true", help="print the proposals as JSON lines")
    p.set_defaults(func=cmd_describe, llm_adapter="none")
    from bot.merchant.faq_commands import add_commands as add_faq_commands

    add_faq_commands(sub)  # shopbot faq propose|list|edit|approve|reject|stats


def cmd_describe(args: argparse.Namespace) -> int:
    """Dispatch ``shopbot describe``."""
    from bot.assemble import command_config
    from bot.merchant.proposals import DescriptionProposals

    config = command_config(args)
    book = DescriptionProposals(config.store_dir)
    if args.list:
        return _list(book, args.json)
    if args.approve:
        proposal = book.approve(args.approve)
        print(
            f"approved {proposal['id']}: the description of {proposal['title']} "
            f"({proposal['product_id']}) is in the products file now "
            f"(previous file kept as {proposal['backup']}). "
            f"Rebuild or restart the server to serve it: shopbot build --store {config.store_dir}"
        )
        return 0
    if args.reject:
        proposal = book.reject(args.reject, note=args.note)
        print(f"rejected {proposal['id']} ({proposal['title']}); the store was not changed")
        return 0
    return _draft(args, config, book)


def _draft(args: argparse.Namespace, config: Any, book: Any) -> int:
    from bot.assemble import load_generator_from_config
    from bot.merchant.describe import describe, description_language
    from knowledge_base.store import load_store

    store = load_store(config.store_dir)
    if args.all:
        products = store.products
    else:
        products = []
        for pid in args.product:
            product = store.product(pid)
            if product is None:
                known = ", ".join(p.id for p in store.products[:5])
                raise ValueError(
                    f"no product {pid!r} in {config.store_dir} (ids look like: {known}); "
                    "nothing was drafted"
                )
            products.append(product)
    if not products:
        raise ValueError(f"{config.store_dir} has no products to describe")
    generator = load_generator_from_config(config) if config.llm_backend != "none" else None
    language = description_language(store.settings.language, args.lang)
    for product in products:
        draft = describe(
            product,
            currency=store.settings.currency,
            language=language,
            tone=args.tone,
            generator=generator,
        )
        proposal = book.add(draft)
        if args.json:
            print(json.dumps(proposal, ensure_ascii=False))
            continue
        models = sum(s.source == "model" for s in draft.sentences)
        print(
            f"{proposal['id']}  {product.title} ({product.id}): {len(draft.sentences)} sentences "
            f"({models} from the model), {len(draft.rejected)} dropped"
        )
        print(f"    {draft.text}")
        for dropped in draft.rejected:
            print(f"    dropped: {dropped.text!r}: {'; '.join(dropped.reasons)}")
    print(
        f"{len(products)} proposals in {book.path}; approve one with "
        "`shopbot describe --approve ID` (or on /admin/descriptions)"
    )
    return 0


def _list(book: Any, as_json: bool) -> int:
    proposals = book.all()
    for p in proposals:
        if as_json:
            print(json.dumps(p, ensure_ascii=False))
        else:
            print(f"{p['id']:<40} {p['status']:<10} {p['title'][:40]}: {p['description'][:70]}")
    if not proposals and not as_json:
        print(f"(no proposals in {book.path})")
    return 0
