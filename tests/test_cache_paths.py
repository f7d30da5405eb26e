"""Where shopbot keeps what it can rebuild (the cache) and what it cannot (customer data).

Real folders and real permissions: a read-only store is a temporary folder
chmod'ed 0o555, as a store shipped in a container image or a package is. Root
may write anywhere, so under root the read-only checks run in a forked child
that has dropped to the unprivileged ``nobody`` user.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from knowledge_base.cache import artifacts_dir, cache_root, data_root, store_data_dir


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No shopbot overrides; XDG folders under ``tmp_path`` so nothing touches $HOME."""
    for name in ("SHOPBOT_CACHE_DIR", "SHOPBOT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    return tmp_path


NOBODY = 65534


def as_unprivileged(compute: Callable[[], list[str]]) -> list[str]:
    """``compute()`` as a user that file permissions apply to (forked as nobody under root)."""
    if os.geteuid() != 0:
        return compute()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop root, compute, report, exit without pytest's teardown
        code = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.write(write, json.dumps(compute()).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as fh:
        out = fh.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the unprivileged child failed"
    return json.loads(out)


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temporary folder other users can traverse (pytest's tmp_path is private to us)."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        folder.chmod(0o755)
        yield folder
        for sub in folder.rglob("*"):
            if sub.is_dir():
                sub.chmod(0o755)  # let the folder be removed


@pytest.fixture
def read_only_store(shared_tmp: Path) -> Path:
    """A store folder shopbot may not write into."""
    store = shared_tmp / "shop"
    store.mkdir()
    (store / "store.toml").write_text('name = "Shop"\n')
    store.chmod(0o555)
    return store


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG is the Linux layout")
def test_cache_root_honours_xdg_cache_home(clean_env: Path) -> None:
    assert cache_root() == clean_env / "xdg-cache" / "shopbot"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG is the Linux layout")
def test_data_root_honours_xdg_data_home(clean_env: Path) -> None:
    assert data_root() == clean_env / "xdg-data" / "shopbot"


def test_shopbot_cache_dir_wins_and_expands_home(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(clean_env / "home"))
    monkeypatch.setenv("SHOPBOT_CACHE_DIR", "~/shopbot-cache")
    assert cache_root() == clean_env / "home" / "shopbot-cache"


def test_shopbot_data_dir_wins_and_expands_home(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(clean_env / "home"))
    monkeypatch.setenv("SHOPBOT_DATA_DIR", "~/shopbot-data")
    assert data_root() == clean_env / "home" / "shopbot-data"


def test_data_root_is_not_the_cache_root(clean_env: Path) -> None:
    cache, data = cache_root(), data_root()
    assert cache != data
    assert not data.is_relative_to(cache)  # deleting the cache keeps the data


def test_read_only_store_builds_into_the_cache_and_keeps_data_out_of_it(
    clean_env: Path, read_only_store: Path
) -> None:
    artifacts, data = map(
        Path,
        as_unprivileged(
            lambda: [str(artifacts_dir(read_only_store)), str(store_data_dir(read_only_store))]
        ),
    )
    assert artifacts.is_relative_to(cache_root() / "stores")
    assert data.is_relative_to(data_root() / "stores")
    assert not data.is_relative_to(cache_root())
    # Both are named for the store, and real folders can be made there.
    assert artifacts.name.startswith("shop-") and data.name.startswith("shop-")
    for folder in (artifacts, data):
        folder.mkdir(parents=True)
        (folder / "probe").write_text("ok")
    assert not (read_only_store / ".shopbot").exists()


def test_two_read_only_stores_with_one_name_do_not_share_folders(
    clean_env: Path, shared_tmp: Path
) -> None:
    stores = []
    for parent in ("a", "b"):
        store = shared_tmp / parent / "shop"
        store.mkdir(parents=True)
        store.parent.chmod(0o755)
        store.chmod(0o555)
        stores.append(store)
    a_art, b_art, a_data, b_data = as_unprivileged(
        lambda: [str(artifacts_dir(s)) for s in stores] + [str(store_data_dir(s)) for s in stores]
    )
    assert a_art != b_art and a_data != b_data
    assert Path(a_art).is_relative_to(cache_root()) and Path(a_data).is_relative_to(data_root())


def test_writable_store_keeps_artifacts_and_data_in_its_own_folder(
    clean_env: Path, tmp_path: Path
) -> None:
    store = tmp_path / "shop"
    store.mkdir()
    assert artifacts_dir(store) == store.resolve() / ".shopbot"
    assert store_data_dir(store) == store.resolve() / ".shopbot"


def test_a_read_only_stores_conversations_are_kept_in_the_data_folder(
    clean_env: Path, read_only_store: Path, shared_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Cache and data where the unprivileged child may look (pytest's tmp_path is private).
    for name, sub in (("XDG_CACHE_HOME", "cache"), ("XDG_DATA_HOME", "data")):
        (shared_tmp / sub).mkdir(mode=0o777)
        (shared_tmp / sub).chmod(0o777)
        monkeypatch.setenv(name, str(shared_tmp / sub))
    from knowledge_base.cache import conversation_db_path

    path, data, artifacts = map(
        Path,
        as_unprivileged(
            lambda: [
                str(conversation_db_path(read_only_store)),
                str(store_data_dir(read_only_store)),
                str(artifacts_dir(read_only_store)),
            ]
        ),
    )
    assert path == data / "shopbot.db" and path.is_relative_to(data_root())
    assert not path.is_relative_to(cache_root())

    # One an older shopbot left in the cache is still used, so no conversation is lost.
    legacy = artifacts / "shopbot.db"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"")
    (kept,) = as_unprivileged(lambda: [str(conversation_db_path(read_only_store))])
    assert Path(kept) == legacy
