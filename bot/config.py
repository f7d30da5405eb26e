"""One typed configuration object with defaults.

Values come, in increasing priority, from the defaults below, the
``[shopbot]`` table of the store's ``store.toml``, a config file given with
``--config`` (TOML, same keys), ``SHOPBOT_<KEY>`` environment variables and
command-line overrides. ``shopbot config`` prints the result.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEMO_STORE = Path(__file__).resolve().parent.parent / "knowledge_base" / "demo_store"


@dataclass
class Config:
    """Everything a running shopbot can be told."""

    store_dir: Path = DEMO_STORE
    host: str = "127.0.0.1"
    port: int = 8080
    # Where the conversation log lives; default: the store's artifacts dir.
    db_path: Path | None = None
    # A PostgreSQL URL (postgresql://user:pass@host:5432/db) shared by several server
    # processes; set, it replaces the SQLite file at db_path. Env SHOPBOT_DATABASE_URL.
    database_url: str | None = None
    max_message_chars: int = 2000
    max_body_bytes: int = 64 * 1024
    # Chat LM: backend "transformers" | "llama-cpp" | "openai" | "none" (extractive answers only).
    llm_backend: str = "transformers"
    llm_model: str = "qwen2.5-0.5b"
    llm_adapter: str | None = None
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    # llm_backend "openai": unset base URL / key fall back to $OPENAI_BASE_URL / $OPENAI_API_KEY.
    # A busy endpoint (429, 503) or one not reachable is asked again as its Retry-After
    # says: at most this many requests per answer, sleeping at most this long in all.
    llm_max_attempts: int = 3
    llm_max_retry_seconds: float = 10.0
    max_new_tokens: int = 160
    # A rasa-sdk action server URL; None runs the actions in-process.
    action_endpoint: str | None = None
    # When to answer from the store's knowledge is calibrated per store at build time
    # (knowledge_base/calibration.py). Setting these replaces that with fixed bands on
    # the cosine of question and best entry: answer (and quote) at or above
    # answer_min_score, ask which entry was meant at or above clarify_min_score.
    answer_min_score: float | None = None
    clarify_min_score: float | None = None
    # A confident FAQ match gets the merchant's own answer as written (a curated
    # reply, streamed at once); false: the chat model composes every knowledge answer.
    curated_answers: bool = True
    # Per-sender requests per minute (0 = unlimited); each client address gets ten times
    # this on /api/chat and on each other public route (bot/web/app.py ROUTE_LIMITS).
    rate_limit_per_minute: int = 60
    # JSON request bodies may nest arrays/objects at most this deep (deeper: 400).
    max_json_depth: int = 32
    # Reverse proxies (IPs or CIDRs, "10.0.0.0/8") whose X-Forwarded-For is believed: the
    # client is then the right-most forwarded address that is not one of them. Empty (the
    # default) trusts none: X-Forwarded-For is ignored. Env / CLI: comma-separated.
    trusted_proxies: list[str] = field(default_factory=list)
    # Open live event streams (/api/events): per client address, and in all (0 = no cap).
    max_event_streams_per_client: int = 5
    max_event_streams: int = 500
    admin_token: str | None = None
    # The Rasa REST channel (/webhooks/rest/webhook) is for server-side integrations:
    # with a token set they must send "Authorization: Bearer <token>"; without one it
    # answers only callers on this machine (loopback). Env SHOPBOT_REST_CHANNEL_TOKEN.
    rest_channel_token: str | None = None
    # A verified customer stays verified only while the conversation is active: after
    # this many idle minutes order details and changes need verifying again.
    verification_idle_minutes: float = 30.0
    # Failed identity checks allowed per conversation, and per customer targeted (the
    # name or email tried) across all conversations, within the window; after that a
    # person takes over instead of more tries (bot/turn/pipeline.py, bot/storage/conversations.py).
    verification_max_failures: int = 3
    verification_max_failures_per_customer: int = 5
    verification_failure_window_seconds: float = 3600.0
    # A change (cancel, return) waits this long for the customer's yes; after that, or
    # after any other request, the question has lapsed and nothing changes.
    confirmation_timeout_seconds: float = 300.0
    # Origins whose pages may call the public customer API (the widget on the shop's
    # pages): list them ("https://shop.example"). "*" opens only the store's public
    # information (/api/store, cited passages) to any page, never the routes that carry
    # a conversation; [] = same origin only. Env / CLI: comma-separated.
    cors_origins: list[str] = field(default_factory=lambda: ["*"])
    # Generation admission control: answers generated at once, answers waiting for a
    # slot, and how long one may wait; beyond that the customer gets a "busy" reply.
    generation_concurrency: int = 1
    generation_queue_size: int = 16
    generation_queue_timeout: float = 10.0
    # Insights: background profile/demand updates; log retention (0 = keep forever);
    # a product query whose best catalog title match is below this cosine is a demand gap.
    insights_enabled: bool = True
    retention_days: float = 0.0
    demand_gap_threshold: float = 0.6
    # Offer a person before being asked: a message this much more negative than the last
    # (VADER compound, and at most -drop), or two failed answers in a row (bot/turn/escalation.py).
    escalation_enabled: bool = True
    escalation_sentiment_drop: float = 0.5
    # Re-rank product answers by the customer's profile (interests, price range); on because
    # it raised the rank of the wanted product on held-out sessions (scripts/bench_personalisation.py).
    personalise_search: bool = True
    log_level: str = "INFO"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for printing; secrets masked."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("llm_api_key", "admin_token", "rest_channel_token") and value:
                value = "***"
            if f.name == "database_url" and value:
                from bot.storage.db import safe_url

                value = safe_url(value)
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out


def _coerce(name: str, raw: Any) -> Any:
    """Turn a TOML or environment value into the field's type."""
    kind = {f.name: f.type for f in fields(Config)}[name]
    if kind in ("float | None", "int | None") and not (
        isinstance(raw, str) and raw.strip().lower() in ("", "none", "null")
    ):
        kind = kind.split(" |")[0]
    if raw is None:
        return None
    if isinstance(raw, str) and raw.strip().lower() in ("", "none", "null") and "None" in str(kind):
        return None
    try:
        if "Path" in str(kind):
            return Path(raw).expanduser()
        if kind in ("int", int):
            return int(raw)
        if kind in ("float", float):
            return float(raw)
        if "list" in str(kind):
            if isinstance(raw, str):
                return [part.strip() for part in raw.split(",") if part.strip()]
            if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
                raise ValueError("expected a list of strings")
            return list(raw)
        if kind in ("bool", bool):
            if isinstance(raw, bool):
                return raw
            if str(raw).strip().lower() in ("1", "true", "yes", "on"):
                return True
            if str(raw).strip().lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"config key '{name}': cannot use {raw!r} ({exc})") from exc
    return raw


def _apply(cfg: Config, values: dict[str, Any], origin: str) -> None:
    known = {f.name for f in fields(Config)} - {"extra"}
    for key, raw in values.items():
        if key in known:
            setattr(cfg, key, _coerce(key, raw))
        else:
            cfg.extra[key] = raw
            if origin != "store.toml":
                raise ValueError(f"{origin}: unknown config key '{key}'")


def load_config(
    store_dir: str | Path | None = None,
    config_file: str | Path | None = None,
    **overrides: Any,
) -> Config:
    """Build the config for ``store_dir`` (default: the bundled demo store)."""
    cfg = Config()
    env_store = os.environ.get("SHOPBOT_STORE_DIR")
    if store_dir is None and env_store:
        store_dir = env_store
    if store_dir is not None:
        cfg.store_dir = Path(store_dir).expanduser().resolve()
    toml_path = cfg.store_dir / "store.toml"
    if toml_path.exists():
        try:
            data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{toml_path}: not valid TOML ({exc})") from exc
        _apply(cfg, data.get("shopbot", {}), "store.toml")
    if config_file:
        path = Path(config_file)
        try:
            _apply(cfg, tomllib.loads(path.read_text(encoding="utf-8")), str(path))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"config file {path}: {exc}") from exc
    for f in fields(Config):
        env = os.environ.get(f"SHOPBOT_{f.name.upper()}")
        if env is not None and f.name not in ("store_dir", "extra"):
            setattr(cfg, f.name, _coerce(f.name, env))
    for key, value in overrides.items():
        if value is not None:
            if key not in {f.name for f in fields(Config)}:
                raise ValueError(f"unknown config key '{key}'")
            setattr(cfg, key, _coerce(key, value) if isinstance(value, str) else value)
    return cfg


def replace(cfg: Config, **changes: Any) -> Config:
    """A copy of ``cfg`` with some fields changed."""
    return dataclasses.replace(cfg, **changes)
