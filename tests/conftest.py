"""Shared fixtures: a private copy of the demo store, one loaded bot per session.

Loading models is the slow part of the suite, so the encoder, the small chat
LM (SmolLM2, from its PyPI package) and the demo store's bot are built once.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from knowledge_base.index import Hit
from knowledge_base.store import StoreSettings

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


def make_hit(
    id: str,
    type: str,
    title: str,
    answer: str,
    text: str = "",
    score: float = 1.0,
    dense: float = 0.8,
    meta: dict | None = None,
) -> Hit:
    """A hand-made search hit (answering, grounding and generation tests, benchmarks)."""
    return Hit(
        id=id,
        type=type,
        title=title,
        score=score,
        dense=dense,
        lexical=0.0,
        text=text,
        answer=answer,
        meta=meta or {},
    )


NORTHWIND = StoreSettings(name="Northwind Outfitters", currency="USD")


async def started_client(config, bot):  # type: ignore[no-untyped-def]
    """The real app around ``bot`` on port 0, behind a started aiohttp ``TestClient``
    (the caller closes it)."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot.web.app import create_app

    client = TestClient(TestServer(create_app(config, bot=bot), port=0))
    await client.start_server()
    return client


@contextmanager
def model_answers(bot):  # type: ignore[no-untyped-def]
    """The chat model composes every knowledge answer while inside (no curated FAQ
    quotes, ``curated_answers = false``): for tests about generation."""
    from bot.config import replace

    saved = bot.config
    bot.config = replace(saved, curated_answers=False)
    try:
        yield bot
    finally:
        bot.config = saved


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
    from bot.answers.generation import load_generator

    return load_generator(backend="transformers", model=TEST_LLM)


@pytest.fixture(scope="session")
def demo_config(demo_store: Path):
    from bot.config import load_config

    return load_config(demo_store, llm_model=TEST_LLM, rate_limit_per_minute=0)


@pytest.fixture(scope="session")
def demo_bot(demo_config, small_generator):
    """The demo store's bot, built and loaded once for the session."""
    from bot.assemble import load_bot_sync

    bot = load_bot_sync(demo_config, progress=False, generator=small_generator)
    yield bot
    bot.conversations.close()


def _postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian layout), if any."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


@contextmanager
def postgres_server(fsync: bool = False) -> Iterator[str]:
    """Run a throwaway PostgreSQL server on 127.0.0.1; yields its base DSN.

    initdb into a temp dir, trust auth, a free port, unix socket in the same
    dir; stopped and deleted on exit. PostgreSQL refuses to run as root, so as
    root (CI) the cluster runs as the ``postgres`` user the Debian package
    creates. Raises RuntimeError when it cannot start. ``fsync=False`` for
    tests (a process kill loses nothing either way; only a power cut would).
    """
    import getpass
    import socket
    import subprocess
    import tempfile

    bindir = _postgres_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (scripts/system-deps installs it)")
    as_user: list[str] = []
    run_as = getpass.getuser()
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise RuntimeError(
                "running as root and there is no 'postgres' user to run PostgreSQL as"
            ) from exc
        run_as = "postgres"
        as_user = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="shopbot-pg-"))
    if as_user:
        shutil.chown(base, "postgres")
    data = base / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def pg(*args: str) -> None:
        # cwd: the postgres user may not be allowed into the caller's directory.
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=120, cwd=base)

    try:
        pg(str(bindir / "initdb"), "-D", str(data), "-U", "shopbot", "--auth=trust", "-E", "UTF8")
        pg(
            str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60",
            "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {base} "
            f"-c fsync={'on' if fsync else 'off'} -c max_connections=200",
            "start",
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        log = (base / "log").read_text() if (base / "log").exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(
            f"could not start PostgreSQL as {run_as}: {exc.stderr.decode()} {log}"
        ) from exc
    try:
        yield f"postgresql://shopbot@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            cwd=base,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """The session's throwaway PostgreSQL server (``postgres_server``): its base DSN.

    Each test makes its own database with ``new_postgres_database``.
    """
    require_system("PostgreSQL", _postgres_bin() is not None)
    try:
        server = postgres_server()
        dsn = server.__enter__()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield dsn
    finally:
        server.__exit__(None, None, None)


def new_postgres_database(dsn: str) -> str:
    """A fresh, empty database on the ``postgres_dsn`` server: its URL."""
    import asyncio
    import uuid

    import asyncpg

    name = f"t_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return dsn.rsplit("/", 1)[0] + f"/{name}"


@contextmanager
def serve_in_background(demo_config, demo_bot, admin_token: str) -> Iterator[int]:  # type: ignore[no-untyped-def]
    """The demo app with extractive answers (no chat model: fast) and no rate limits, in
    a background event loop on a real port of 127.0.0.1; yields the port."""
    import asyncio
    import copy
    import threading

    from aiohttp import web

    from bot.answers.answerer import KnowledgeAnswerer
    from bot.answers.generation import load_generator
    from bot.config import replace
    from bot.web.app import create_app

    bot = copy.copy(demo_bot)
    bot.answerer = KnowledgeAnswerer(load_generator(backend="none", model=None))
    config = replace(
        demo_config, admin_token=admin_token, rate_limit_per_minute=0, insights_enabled=False
    )
    runner = web.AppRunner(create_app(config, bot=bot))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(runner.setup(), loop).result()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    asyncio.run_coroutine_threadsafe(site.start(), loop).result()
    try:
        yield runner.addresses[0][1]
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
