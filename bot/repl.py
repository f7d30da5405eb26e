"""``shopbot chat``: talk to the bot in a terminal, in-process or over HTTP."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import Any

from knowledge_base.cache import cache_root

HISTORY_FILE = cache_root() / "chat_history"


def _setup_readline() -> None:
    try:
        import readline
    except ImportError:  # pragma: no cover - Windows
        return
    HISTORY_FILE.parent.mkdir(parents=True, exist_ok=True)
    try:
        readline.read_history_file(HISTORY_FILE)
    except OSError:
        pass
    import atexit

    atexit.register(lambda: _save_history(readline))


def _save_history(readline: Any) -> None:
    try:
        readline.set_history_length(1000)
        readline.write_history_file(HISTORY_FILE)
    except OSError:
        pass


def _print_messages(messages: list[dict[str, Any]], skip_text: bool = False) -> None:
    for m in messages:
        if m.get("text") and not skip_text:
            print(f"bot> {m['text']}")
        for b in m.get("buttons", []) or []:
            print(f"     [{b.get('title')}]  (type: {b.get('payload')})")
        custom = m.get("custom")
        if isinstance(custom, dict) and custom.get("type") == "product_cards":
            for p in custom.get("products", [])[:5]:
                stock = "in stock" if p.get("in_stock") else "sold out"
                print(f"     * {p.get('title')} ({p.get('category')}): {stock}")


def _print_debug(data: dict[str, Any]) -> None:
    sources = ", ".join(f"{s['id']} ({s['score']:.2f})" for s in data.get("sources", []))
    print(
        f"     [intent={data.get('intent')} conf={data.get('confidence') or 0:.2f} "
        f"action={data.get('action')} handoff={data.get('handoff')} sources={sources or '-'}]"
    )
    followup = data.get("followup")
    if followup:  # a follow-up, read against the conversation (bot/turn/followups.py)
        topic = followup.get("topic") or {}
        about = topic.get("title") or ", ".join(topic.get("products") or []) or topic.get("id")
        read_as = followup.get("standalone") or "(as it is)"
        print(f"     [follow-up on {topic.get('kind')} {about!r}: read as {read_as!r}]")


async def _local_loop(config: Any, debug: bool, lines: Any) -> None:
    from bot.assemble import load_bot

    print("Loading the store and models ...", flush=True)
    bot = await load_bot(config)
    sender = f"cli-{uuid.uuid4().hex[:8]}"
    print(
        f"{bot.settings.name}: {bot.catalogue.greeting()}\n(type /quit to leave, /restart to start over)"
    )
    try:
        for text in lines:
            streamed = False
            reply = None
            async for event in bot.stream_turn(sender, text):
                if event["type"] == "token":
                    if not streamed:
                        print("bot> ", end="", flush=True)
                        streamed = True
                    print(event["text"], end="", flush=True)
                elif event["type"] == "replace":
                    print(
                        f"\n     (checked against our sources; corrected:)\nbot> {event['text']}",
                        end="",
                    )
                    streamed = True
                elif event["type"] == "done":
                    reply = event["reply"]
            if streamed:
                print()
            assert reply is not None
            # A streamed answer is already on screen; its buttons and cards are not.
            _print_messages(reply.messages, skip_text=streamed)
            if debug:
                _print_debug(reply.to_api())
    finally:
        bot.conversations.close()


def _remote_loop(url: str, debug: bool, lines: Any) -> None:
    import urllib.error
    import urllib.request

    sender = f"cli-{uuid.uuid4().hex[:8]}"
    token: str | None = None  # the conversation's secret, from its first reply
    for text in lines:
        payload = {"sender": sender, "message": text}
        if token:
            payload["token"] = token
        body = json.dumps(payload).encode()
        req = urllib.request.Request(
            url.rstrip("/") + "/api/chat", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                data = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            err = json.loads(exc.read() or b"{}").get("error", {})
            print(f"error {exc.code}: {err.get('message', exc.reason)}")
            continue
        except urllib.error.URLError as exc:
            print(f"cannot reach {url}: {exc.reason}", file=sys.stderr)
            return
        token = data.get("token") or token
        _print_messages(data.get("messages", []))
        if debug:
            _print_debug(data)


def _input_lines() -> Any:
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            print()
            return
        if text in ("/quit", "/exit"):
            return
        if text:
            yield text


def run_repl(config: Any, url: str | None = None, debug: bool = False) -> int:
    """The interactive loop; returns the exit code."""
    if sys.stdin.isatty():
        _setup_readline()
    lines = _input_lines()
    try:
        if url:
            _remote_loop(url, debug, lines)
        else:
            asyncio.run(_local_loop(config, debug, lines))
    except KeyboardInterrupt:
        print()
    return 0
