"""``shopbot actions``: serve the store's business actions over rasa-sdk's webhook protocol.

    shopbot actions [--store DIR] [--host 127.0.0.1] [--port 5055] [--db FILE]

A Rasa server then runs them with ``action_endpoint: {url: http://HOST:PORT/webhook}``,
and so does a shopbot with ``action_endpoint = "http://HOST:PORT/webhook"`` in its
config (bot/actions/server.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.actions.server import DEFAULT_PORT


def add_commands(sub: Any) -> None:
    """Add ``shopbot actions`` to the command line's subparsers."""
    p = sub.add_parser(
        "actions", help="serve the business actions as a rasa-sdk action server (POST /webhook)"
    )
    p.add_argument("--store", type=Path, help="store directory (default: the bundled demo store)")
    p.add_argument("--config", type=Path, help="a TOML config file")
    p.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    p.add_argument(
        "--db", dest="db_path", type=Path, help="the chat server's conversation database file"
    )
    p.set_defaults(func=cmd_actions)


def cmd_actions(args: argparse.Namespace) -> int:
    """Run ``shopbot actions`` until interrupted."""
    from bot.actions.server import serve_actions
    from bot.config import load_config

    config = load_config(args.store, args.config, db_path=args.db_path)
    serve_actions(config.store_dir, host=args.host, port=args.port, db_path=config.db_path)
    return 0
