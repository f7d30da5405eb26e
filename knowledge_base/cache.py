"""shopbot's cache and data folders, and small memo files kept in the cache.

The cache (``cache_root``) holds only what can be rebuilt or downloaded again,
so deleting it is always safe; customer data (a read-only store's conversation
database) goes under ``data_root`` instead. Both follow the platform's
conventions through platformdirs (on Linux ``$XDG_CACHE_HOME`` and
``$XDG_DATA_HOME``).

Both the chat models (bot/answers/models.py) and the sentence encoder
(knowledge_base/embeddings.py) hash large files to check them; the hash is
memoised by a cheap key (path, size, mtime) so a start does not re-read
hundreds of megabytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import platformdirs

APP_NAME = "shopbot"  # no separate vendor folder on Windows (appauthor=False)


def cache_root() -> Path:
    """The shopbot cache root: ``$SHOPBOT_CACHE_DIR``, else the platform's user cache
    folder (Linux: ``$XDG_CACHE_HOME/shopbot``, by default ``~/.cache/shopbot``)."""
    env = os.environ.get("SHOPBOT_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return platformdirs.user_cache_path(APP_NAME, appauthor=False)


def data_root() -> Path:
    """The shopbot data root: ``$SHOPBOT_DATA_DIR``, else the platform's user data
    folder (Linux: ``$XDG_DATA_HOME/shopbot``, by default ``~/.local/share/shopbot``).

    Unlike the cache, what is here cannot be rebuilt: conversations, order changes.
    """
    env = os.environ.get("SHOPBOT_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def _local_dir(store_dir: Path) -> Path | None:
    """``STORE/.shopbot`` when shopbot may write there, else None (a read-only store)."""
    local = store_dir / ".shopbot"
    if os.access(store_dir, os.W_OK) or (local.exists() and os.access(local, os.W_OK)):
        return local
    return None


def _store_key(store_dir: Path) -> str:
    """A folder name for a store under a per-user root: its name and a hash of its path,
    so two stores with the same name in different places do not share a folder."""
    digest = hashlib.sha256(str(store_dir).encode()).hexdigest()[:16]
    return f"{store_dir.name}-{digest}"


def artifacts_dir(store_dir: Path) -> Path:
    """Where a store's built artifacts live: ``STORE/.shopbot``, or a per-user cache
    folder when the store is read-only (the artifacts can always be rebuilt)."""
    store_dir = Path(store_dir).resolve()
    return _local_dir(store_dir) or cache_root() / "stores" / _store_key(store_dir)


def store_data_dir(store_dir: Path) -> Path:
    """Where a store's customer data (the conversation database) lives:
    ``STORE/.shopbot``, or a per-user data folder when the store is read-only.

    Never the cache: clearing the cache must not delete conversations.
    """
    store_dir = Path(store_dir).resolve()
    return _local_dir(store_dir) or data_root() / "stores" / _store_key(store_dir)


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    """SHA-256 hex digest of a file, read in 4 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def memoised(memo_path: Path, key: str, compute: Callable[[], str]) -> str:
    """``compute()``, remembered under ``key`` in the JSON file ``memo_path``.

    The file is rewritten atomically (temp file + rename); a read-only or
    broken memo only costs computing again.
    """
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    if not isinstance(memo, dict):
        memo = {}
    if key in memo:
        return str(memo[key])
    value = compute()
    memo[key] = value
    try:
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo, indent=1))
        os.replace(tmp, memo_path)
    except OSError:
        pass  # a read-only cache only costs a re-hash next time
    return value


DB_FILE = "shopbot.db"


def conversation_db_path(store_dir: Path) -> Path:
    """The store's conversation database file: ``store_data_dir(store_dir)/shopbot.db``.

    A read-only store served by an older shopbot kept it in the cache; while that file
    exists and the new one does not, it is the one used, so no conversation is lost.
    """
    path = store_data_dir(store_dir) / DB_FILE
    legacy = artifacts_dir(store_dir) / DB_FILE
    try:
        if legacy != path and legacy.exists() and not path.exists():
            return legacy
    except OSError:  # a cache folder we may not look into holds nothing of ours
        pass
    return path
