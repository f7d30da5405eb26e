"""shopbot's cache folder and small memo files kept in it.

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


def cache_root() -> Path:
    """The shopbot cache root: ``$SHOPBOT_CACHE_DIR`` or ``~/.cache/shopbot``."""
    env = os.environ.get("SHOPBOT_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "shopbot"


def artifacts_dir(store_dir: Path) -> Path:
    """Where a store's built artifacts live: ``STORE/.shopbot``, or a per-user cache
    folder when the store is read-only."""
    store_dir = Path(store_dir).resolve()
    local = store_dir / ".shopbot"
    if os.access(store_dir, os.W_OK) or (local.exists() and os.access(local, os.W_OK)):
        return local
    digest = hashlib.sha256(str(store_dir).encode()).hexdigest()[:16]
    return cache_root() / "stores" / f"{store_dir.name}-{digest}"


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
