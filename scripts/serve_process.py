"""Run ``shopbot serve`` as a real subprocess on a free loopback port.

Shared by the load, crash and fuzz benchmarks (scripts/load_test.py,
scripts/crash_test.py, scripts/fuzz_api.py) and their pytest versions, so all
of them exercise the server exactly as a merchant runs it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn_until_healthy(
    cmd: list[str], env: dict[str, str], log_path: Path, url: str, timeout: float, nice: int = 0
) -> tuple[subprocess.Popen[bytes], float]:
    """Start ``cmd`` (output to ``log_path``) and wait until ``url/health`` answers 200.

    Returns the process and its start-up seconds. ``nice`` > 0 lowers only the
    child's CPU priority. RuntimeError with the log's tail if the process exits
    first, or (after killing it) if it does not answer within ``timeout`` s.
    """
    name = cmd[3]  # [python, -m, bot.cli, serve | serve-llm, ...]
    started = time.perf_counter()
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,  # only the child is reniced
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"shopbot {name} exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    return proc, time.perf_counter() - started
        except OSError:
            time.sleep(0.2)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"shopbot {name} did not answer /health within {timeout} s")


class _Child:
    """A shopbot subprocess (``self.proc``) that can be killed or stopped."""

    proc: subprocess.Popen[bytes] | None = None

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no WAL checkpoint, as in a power cut."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """SIGINT, the graceful way (``web.run_app`` closes the log); SIGKILL if stuck."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class ServerProcess(_Child):
    """``shopbot serve`` in a child process; ``start()``, ``kill()``, ``stop()``."""

    def __init__(
        self,
        store: Path,
        db_path: Path,
        port: int | None = None,
        env: dict[str, str] | None = None,
        llm_model: str | None = None,
        llm_backend: str | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.store, self.db_path = Path(store), Path(db_path)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            # Every load client shares 127.0.0.1: the per-address limit would be the bottleneck.
            "SHOPBOT_RATE_LIMIT_PER_MINUTE": "0",
            "SHOPBOT_INSIGHTS_ENABLED": "false",
            "SHOPBOT_LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.llm_model, self.llm_backend = llm_model, llm_backend
        self.log_path = log_path or self.db_path.with_suffix(".server.log")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 600.0) -> float:
        """Start and wait until ``/health`` answers; returns the start-up seconds."""
        cmd = [sys.executable, "-m", "bot.cli", "serve", "--store", str(self.store)]
        cmd += ["--port", str(self.port), "--db", str(self.db_path)]
        if self.llm_model:
            cmd += ["--llm-model", self.llm_model]
        if self.llm_backend:
            cmd += ["--llm-backend", self.llm_backend]
        self.proc, seconds = spawn_until_healthy(cmd, self.env, self.log_path, self.url, timeout)
        return seconds


class EngineProcess(_Child):
    """``shopbot serve-llm`` in a child process, optionally at a lower CPU priority.

    ``nice`` > 0 makes the engine yield the CPU to the chat servers on the same
    host: generation then uses only what the chat turns leave over.
    """

    def __init__(
        self,
        model: str,
        log_path: Path,
        store: Path | None = None,
        nice: int = 0,
        max_queue: int | None = None,
        port: int | None = None,
        backend: str = "transformers",
        threads: int | None = None,
    ) -> None:
        self.model, self.store, self.nice, self.max_queue = model, store, nice, max_queue
        self.backend, self.threads = backend, threads
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 900.0) -> float:
        """Start and wait until ``/health`` answers; returns the start-up seconds."""
        cmd = [sys.executable, "-m", "bot.cli", "serve-llm", "--model", self.model]
        cmd += ["--port", str(self.port), "--backend", self.backend]
        if self.store is not None:
            cmd += ["--store", str(self.store)]
        if self.max_queue is not None:
            cmd += ["--max-queue", str(self.max_queue)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        if self.threads:  # leave cores to the chat servers (torch and llama.cpp both read it)
            env["SHOPBOT_NUM_THREADS"] = str(self.threads)
        self.proc, seconds = spawn_until_healthy(
            cmd, env, self.log_path, self.url, timeout, nice=self.nice
        )
        return seconds

    def health(self) -> dict:
        """The engine's ``/health``: queue state and completed/cancelled counts."""
        import json

        with urllib.request.urlopen(self.url + "/health", timeout=10) as resp:
            return dict(json.loads(resp.read()))
