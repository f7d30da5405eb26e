"""The ``shopbot`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def cmd_build(args: argparse.Namespace) -> int:
    from bot.config import DEMO_STORE
    from knowledge_base.build import ensure_built

    artifacts = ensure_built(args.store or DEMO_STORE, progress=True, force=args.force)
    m = artifacts.manifest
    state = "built" if artifacts.rebuilt else "up to date"
    print(
        f"{m.get('store')}: {state} in {artifacts.build_dir} "
        f"({m.get('documents')} documents, {m.get('intent_examples')} intent examples, "
        f"{m.get('build_seconds')} s)"
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.assemble import command_config
    from bot.web.app import serve

    serve(command_config(args))
    return 0


def cmd_serve_llm(args: argparse.Namespace) -> int:
    from bot.answers.llm_server import serve_llm

    serve_llm(
        args.model,
        adapter=args.adapter,
        store=args.store,
        host=args.host,
        port=args.port,
        max_queue=args.max_queue,
        queue_timeout=args.queue_timeout,
        backend=args.backend,
    )
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from bot.assemble import command_config
    from bot.repl import run_repl

    return run_repl(command_config(args) if not args.url else None, url=args.url, debug=args.debug)


def cmd_config(args: argparse.Namespace) -> int:
    from bot.assemble import command_config

    print(json.dumps(command_config(args).to_dict(), indent=2, default=str))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    if args.what == "answers":
        from training import answers

        return answers.main(args)
    from training import evaluate

    return evaluate.main(args)


def cmd_finetune(args: argparse.Namespace) -> int:
    from training import finetune

    return finetune.main(args)


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", type=Path, help="store directory (default: the bundled demo store)")
    p.add_argument("--config", type=Path, help="a TOML config file")
    p.add_argument(
        "--llm-backend", dest="llm_backend", choices=["transformers", "llama-cpp", "openai", "none"]
    )
    p.add_argument("--llm-model", dest="llm_model", help="qwen2.5-0.5b, smollm2-135m, or a path")
    p.add_argument(
        "--adapter",
        dest="llm_adapter",
        help="a LoRA adapter folder, or 'none' for the base model (default: the store's active one)",
    )
    p.add_argument("--llm-base-url", dest="llm_base_url", help="OpenAI-compatible endpoint")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shopbot", description="Customer-service chatbot for e-commerce stores."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="ingest, embed and index a store; train its intent model")
    p.add_argument("--store", type=Path, default=None, help="store directory (default: demo)")
    p.add_argument("--force", action="store_true", help="rebuild even if nothing changed")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("serve", help="run the chat server")
    _add_model_options(p)
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--db", dest="db_path", type=Path, help="conversation database file")
    p.add_argument(
        "--database-url",
        help="PostgreSQL URL shared by several servers (env SHOPBOT_DATABASE_URL)",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "serve-llm", help="serve the chat model (with the store's adapter) as an OpenAI API"
    )
    p.add_argument("--model", default="qwen2.5-0.5b", help="qwen2.5-0.5b, smollm2-135m or a path")
    p.add_argument("--backend", choices=["transformers", "llama-cpp"], default="transformers")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--store", type=Path, help="serve this store's active LoRA adapter")
    g.add_argument("--adapter", help="a LoRA adapter folder")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-queue", type=int, default=8, help="requests that may wait")
    p.add_argument("--queue-timeout", type=float, default=30.0, help="seconds before a 503")
    p.set_defaults(func=cmd_serve_llm)

    p = sub.add_parser("chat", help="chat in the terminal, in-process or against a server")
    _add_model_options(p)
    p.add_argument("--url", help="a running shopbot server, e.g. http://127.0.0.1:8080")
    p.add_argument("--debug", action="store_true", help="show intent, confidence and sources")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("config", help="print the effective configuration")
    _add_model_options(p)
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("eval", help="measure intents or retrieval")
    esub = p.add_subparsers(dest="what", required=True)
    e = esub.add_parser("intents", help="train on one text,intent CSV and score another")
    e.add_argument("--train", type=Path, required=True)
    e.add_argument("--test", type=Path, required=True)
    e.add_argument("--oos-label", default="oos")
    e.add_argument("--json", type=Path)
    e.add_argument("--report-dir", type=Path)
    e = esub.add_parser("retrieval", help="recall@k and MRR of the store's search")
    e.add_argument("--store", type=Path)
    e.add_argument("--queries", type=Path, required=True)
    e.add_argument("--json", type=Path)
    e = esub.add_parser("answers", help="end-to-end answer quality on scripted cases")
    _add_model_options(e)
    e.add_argument("--cases", type=Path, required=True, help="answer cases (JSONL)")
    e.add_argument("--json", type=Path, help="write the full result here")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("finetune", help="LoRA fine-tuning from dialogue logs and store data")
    p.add_argument("--store", type=Path, help="store directory (default: the bundled demo store)")
    p.add_argument("--logs", type=Path, help="a conversation log (the store's shopbot.db)")
    p.add_argument("--out", type=Path, required=True, help="folder for the adapter")
    p.add_argument("--base", default="qwen2.5-0.5b", help="qwen2.5-0.5b, smollm2-135m or a path")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", dest="batch_size", type=int, default=4)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--max-length", dest="max_length", type=int, default=768)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument(
        "--cases",
        type=Path,
        help="answer cases for the gate (default: made from the store, see OUT/data/gate_cases.jsonl)",
    )
    p.add_argument("--no-gate", dest="no_gate", action="store_true", help="never activate")
    p.set_defaults(func=cmd_finetune)
    from bot.actions.commands import add_commands as add_actions_commands

    add_actions_commands(sub)  # shopbot actions
    from bot.insights.commands import add_commands as add_insights_commands

    add_insights_commands(sub)  # shopbot insights ..., shopbot forget
    from bot.merchant.commands import add_commands as add_merchant_commands

    add_merchant_commands(sub)  # shopbot describe ..., shopbot faq ...
    from knowledge_base.importers.commands import add_commands as add_import_commands

    add_import_commands(sub)  # shopbot import ..., shopbot init
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from bot.answers.models import ModelLoadError
    from knowledge_base.store_files import StoreError

    try:
        return int(args.func(args) or 0)
    except StoreError as exc:
        print(f"shopbot: store error: {exc}", file=sys.stderr)
        return 2
    except ModelLoadError as exc:
        print(f"shopbot: could not load a model: {exc}", file=sys.stderr)
        return 3
    except (ValueError, FileNotFoundError) as exc:
        print(f"shopbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
