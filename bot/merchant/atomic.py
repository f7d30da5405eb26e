"""Writing a store file the merchant approved a change to: all at once or not at all."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def replace_file(path: Path, data: bytes, expected: bytes | None, error: type[Exception]) -> None:
    """Write ``data`` beside ``path`` and rename it over ``path`` (atomic); with
    ``expected``, only if ``path`` still holds exactly that (nobody edited it meanwhile),
    else raise ``error`` and change nothing."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        current = path.read_bytes() if path.exists() else b""
        if expected is not None and current != expected:
            raise error(
                f"{path.name} changed while the change was being written; nothing was "
                "changed. Approve again."
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
