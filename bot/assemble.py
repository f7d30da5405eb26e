"""Assemble a ready ``Bot`` for a store: build if needed, load every model once."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.actions.registry import build_executor
from bot.actions.runner import ActionRunner
from bot.answers import generation
from bot.answers.adapters import prompt_version, resolve_adapter
from bot.answers.answerer import KnowledgeAnswerer
from bot.answers.generators.llama_cpp import prefer_passive_openmp
from bot.answers.generators.openai import RetryPolicy
from bot.answers.models import ModelLoadError
from bot.config import Config, load_config
from bot.messages.catalogue import Catalogue
from bot.nlu.intent_model import IntentClassifier
from bot.nlu.parser import NLU
from bot.storage.conversations import ConversationStore
from bot.storage.orders import OrderBook
from bot.turn.pipeline import Bot
from bot.turn.services import Services
from knowledge_base.build import ensure_built
from knowledge_base.calibration import Calibration, conservative
from knowledge_base.index import KnowledgeIndex

__all__ = [
    "ModelLoadError",
    "command_config",
    "load_bot",
    "load_bot_sync",
    "load_generator_from_config",
]

log = logging.getLogger("shopbot.loader")


def command_config(args: Any, **overrides: Any) -> Config:
    """The config a command runs with: the store's and config file's, then the command's
    options (``--host``, ``--llm-backend`` ...), then ``overrides``."""
    for key in (
        "host",
        "port",
        "llm_backend",
        "llm_model",
        "llm_adapter",
        "llm_base_url",
        "db_path",
        "database_url",
    ):
        value = getattr(args, key, None)
        if value is not None:
            overrides[key] = value
    config = load_config(getattr(args, "store", None), getattr(args, "config", None), **overrides)
    if config.llm_backend == "llama-cpp":
        prefer_passive_openmp()  # before torch loads OpenMP: llama.cpp threads must not spin
    return config


def load_bot_sync(config: Config, progress: bool = True, generator: Any = None) -> Bot:
    """Build the store's artifacts if its files changed, then load everything.

    ``generator`` lets a caller share one loaded chat LM between bots (tests).
    """
    # The store's language chooses the encoder (MiniLM for English, the
    # multilingual e5 otherwise); the index and the intent model were built with it.
    artifacts = ensure_built(config.store_dir, progress=progress)
    encoder = artifacts.encoder
    store = artifacts.store
    index = KnowledgeIndex.load(artifacts.index_dir, encoder)
    classifier = IntentClassifier.load(artifacts.intents_dir, encoder)
    nlu = NLU(classifier, store.products)

    if generator is None:
        generator = load_generator_from_config(config)
    answerer = KnowledgeAnswerer(
        generator, prompt_version=prompt_version(getattr(generator, "adapter_path", None))
    )

    db_path = config.db_path or artifacts.db_path
    # PostgreSQL when configured (shared by every server process), else the SQLite file.
    conversations = ConversationStore(config.database_url or db_path)
    order_book = OrderBook.for_store(store, db_path)
    # Every fixed text in each language, with the store's overrides (a bad one: StoreError).
    catalogue = Catalogue.for_store(store)
    executor = None
    if not config.action_endpoint:
        executor = build_executor(
            order_book, store.products, currency=store.settings.currency, catalogue=catalogue
        )
    runner = ActionRunner(executor=executor, endpoint_url=config.action_endpoint)
    services = Services(
        config=config,
        store=store,
        nlu=nlu,
        index=index,
        answerer=answerer,
        runner=runner,
        conversations=conversations,
        catalogue=catalogue,
        calibration=calibration_for(config, artifacts),
        order_book=order_book,
        artifacts=artifacts,
        adapter_path=getattr(generator, "adapter_path", None),
    )
    return Bot(services)


def calibration_for(config: Config, artifacts: Any) -> Calibration:
    """The store's calibration, or fixed bands when the config sets them."""
    if config.answer_min_score is None and config.clarify_min_score is None:
        return Calibration.load(artifacts.calibration_path)
    fixed = conservative()
    if config.answer_min_score is not None:
        fixed.answer = fixed.quote = config.answer_min_score
    if config.clarify_min_score is not None:
        fixed.clarify = config.clarify_min_score
    fixed.clarify = min(fixed.clarify, fixed.answer)
    return fixed


def load_generator_from_config(config: Config) -> Any:
    """The chat LM the config names, or a clear ModelLoadError."""
    adapter = resolve_adapter(
        config.llm_adapter, config.store_dir, config.llm_model, config.llm_backend
    )
    generator = generation.load_generator(
        backend=config.llm_backend,
        model=config.llm_model,
        adapter=adapter,
        base_url=config.llm_base_url,
        api_key=config.llm_api_key,
        retry=RetryPolicy(config.llm_max_attempts, config.llm_max_retry_seconds),
    )
    generator.adapter_path = adapter  # what the server's adapter watcher compares against
    return generator


async def load_bot(config: Config, progress: bool = True, generator: Any = None) -> Bot:
    """``load_bot_sync`` off the event loop."""
    return await asyncio.to_thread(load_bot_sync, config, progress, generator)
