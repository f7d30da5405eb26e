"""``shopbot import shopify|woocommerce|rasa|faq SOURCE --store DIR`` and ``shopbot init DIR``.

The commands are a skin over ``run_import`` and ``starter.init_store``, which
tests and scripts call directly.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from knowledge_base.importers.faq import read_faq
from knowledge_base.importers.rasa import read_rasa
from knowledge_base.importers.report import ImportReport, ImportResult
from knowledge_base.importers.shopify import read_shopify
from knowledge_base.importers.starter import init_store
from knowledge_base.importers.store_writer import write_store
from knowledge_base.importers.woocommerce import read_woocommerce
from knowledge_base.store_files import StoreError

# kind -> (reader, what it reads, the source argument's name, whether the source is a folder)
READERS: dict[str, tuple[Callable[[Path], ImportResult], str, str, bool]] = {
    "shopify": (
        read_shopify,
        "a Shopify product CSV export (Products > Export)",
        "PRODUCTS.csv",
        False,
    ),
    "woocommerce": (
        read_woocommerce,
        "a WooCommerce product CSV export (Products > Export)",
        "PRODUCTS.csv",
        False,
    ),
    "rasa": (read_rasa, "a Rasa project folder (data/nlu.yml, domain.yml)", "RASA_PROJECT", True),
    "faq": (read_faq, "an FAQ: CSV, JSONL, or an HTML or Markdown help page", "FILE", False),
}


def run_import(
    kind: str,
    source: Path,
    store: Path,
    mode: str = "refuse",
    dry_run: bool = False,
    settings: dict[str, str] | None = None,
) -> ImportReport:
    """Read ``source`` as ``kind`` and write it into ``store``; the report of what happened.

    ``mode``: "refuse" (an existing store file is an error), "force" or "merge"
    (see ``store_writer.write_store``).
    """
    reader, what, _, folder = READERS[kind]
    source = source.expanduser()
    if not source.exists():
        raise StoreError(str(source), "not found", hint=f"Pass {what}")
    if folder != source.is_dir():
        raise StoreError(str(source), "is a file" if folder else "is a folder", hint=f"Pass {what}")
    return write_store(store, reader(source), mode=mode, dry_run=dry_run, settings=settings)


def cmd_import(args: argparse.Namespace) -> int:
    """``shopbot import KIND SOURCE --store DIR``: print the report (and write it as JSON)."""
    mode = "force" if args.force else "merge" if args.merge else "refuse"
    report = run_import(
        args.source_kind,
        args.source,
        args.store,
        mode=mode,
        dry_run=args.dry_run,
        settings={"name": args.name or "", "currency": args.currency or ""},
    )
    print(report.format())
    if args.json:
        args.json.write_text(report.to_json() + "\n", encoding="utf-8")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    """``shopbot init DIR``: write a starter store."""
    report = init_store(
        args.dir, name=args.name or "", currency=args.currency, language=args.language
    )
    print(report.format())
    return 0


def add_commands(sub: Any) -> None:
    """Register ``import`` and ``init`` on the ``shopbot`` sub-parser set."""
    p = sub.add_parser(
        "import",
        help="bring your store: a Shopify, WooCommerce, Rasa or FAQ export as a store folder",
        description="Turn your existing data into a shopbot store folder. The report lists what "
        "was taken, what was skipped and why. A file the store already has is never "
        "overwritten unless you say --force (the old one is kept as NAME.bak) or --merge.",
    )
    isub = p.add_subparsers(dest="source_kind", required=True, metavar="KIND")
    for kind, (_, what, metavar, _folder) in READERS.items():
        q = isub.add_parser(kind, help=f"import {what}")
        q.add_argument("source", type=Path, metavar=metavar, help=what)
        q.add_argument(
            "--store", type=Path, required=True, help="the store folder to write (made if missing)"
        )
        how = q.add_mutually_exclusive_group()
        how.add_argument(
            "--force",
            action="store_true",
            help="replace files the store already has (each old one is kept as NAME.bak)",
        )
        how.add_argument(
            "--merge",
            action="store_true",
            help="merge into them: the same product ids, FAQ questions and example texts are "
            "replaced, everything else kept",
        )
        q.add_argument("--dry-run", action="store_true", help="report only; write nothing")
        q.add_argument("--json", type=Path, help="also write the report as JSON to this file")
        q.add_argument("--name", help="the store's name, for a new store.toml")
        q.add_argument(
            "--currency", help="the prices' currency (USD, EUR...), for a new store.toml"
        )
        q.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "init", help="write a starter store: commented store.toml, sample products, FAQ and page"
    )
    p.add_argument("dir", type=Path, help="a new (or empty) folder")
    p.add_argument("--name", help="the store's name (default: from the folder's name)")
    p.add_argument("--currency", default="USD", help="the prices' currency (default USD)")
    p.add_argument("--language", choices=["en", "zh"], default="en")
    p.set_defaults(func=cmd_init)
