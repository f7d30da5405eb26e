"""The ``openai`` backend: any OpenAI-compatible ``/v1/chat/completions`` endpoint, over SSE.

llama.cpp server, vLLM, Ollama, OpenAI, shopbot's own ``serve-llm`` ...; standard
library only. A busy server (429, 503) or one not reachable yet is asked again, as
its ``Retry-After`` says, within a bound fit for a chat turn (:class:`RetryPolicy`);
after that :class:`GenerationError` says why, and the answerer answers extractively.
"""

from __future__ import annotations

import email.utils
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bot.answers.generators.base import GenerationError
from bot.answers.models import ModelLoadError

# Asked again: rate-limited, or busy (shopbot's serve-llm: the queue is full).
RETRY_STATUSES = frozenset({429, 503})
BASE_URL_ENV = "OPENAI_BASE_URL"
API_KEY_ENV = "OPENAI_API_KEY"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one generation tries: ``max_attempts`` requests in all, sleeping at most
    ``max_wait`` seconds in all between them. Without a ``Retry-After`` the waits double
    from ``backoff``. A server asking for longer than what is left is not waited for."""

    max_attempts: int = 3
    max_wait: float = 10.0
    backoff: float = 0.5


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds: a number of seconds or an HTTP date; None if absent
    or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class OpenAIGenerator:
    """Any OpenAI-compatible chat endpoint, streamed with server-sent events.

    ``base_url`` is the server root or its ``/v1`` (``http://localhost:8000`` and
    ``http://localhost:8000/v1`` both work); None takes ``$OPENAI_BASE_URL``, as
    OpenAI's own client does, and ``api_key`` None takes ``$OPENAI_API_KEY``: an
    explicit setting always wins. ``retry``: see :class:`RetryPolicy`.
    """

    def __init__(
        self,
        base_url: str | None,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        base_url = base_url or os.environ.get(BASE_URL_ENV)
        if not base_url:
            raise ModelLoadError(
                "llm_backend 'openai' needs llm_base_url (e.g. http://127.0.0.1:8000/v1) "
                f"or ${BASE_URL_ENV}, and llm_model (the model name the server knows)."
            )
        if not base_url.startswith(("http://", "https://")):
            raise ModelLoadError(
                f"llm_base_url must be an http(s) URL of an OpenAI-compatible server, got {base_url!r}"
            )
        root = base_url.rstrip("/")
        self.url = root + ("/chat/completions" if root.endswith("/v1") else "/v1/chat/completions")
        self.model = model
        self.api_key = api_key or os.environ.get(API_KEY_ENV)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.name = f"openai:{model}"

    def stream(
        self, messages: list[dict[str, str]], max_new_tokens: int = 256, temperature: float = 0.0
    ) -> Iterator[str]:
        """Yield content deltas from the endpoint's SSE stream."""
        body = json.dumps(
            {
                "model": self.model,
                "messages": messages,
                "max_tokens": max_new_tokens,
                "temperature": temperature,
                "stream": True,
            }
        ).encode()
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        response = self._open(urllib.request.Request(self.url, body, headers, method="POST"))
        with response:
            for raw in response:
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue  # blank separators, comments, "event:" lines
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    chunk = json.loads(data)
                except ValueError:
                    continue
                if "error" in chunk:
                    raise GenerationError(f"{self.url} reported: {chunk['error']}")
                for choice in chunk.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        yield piece

    def _open(self, request: urllib.request.Request) -> Any:
        """The response to ``request``, asking again while the server is busy or not
        reachable, within :attr:`retry`. Nothing has been streamed yet, so a retry is safe."""
        attempts = max(1, self.retry.max_attempts)
        attempt, waited = 0, 0.0
        while True:
            attempt += 1
            try:
                return urllib.request.urlopen(request, timeout=self.timeout)
            except urllib.error.HTTPError as exc:
                detail = exc.read(500).decode("utf-8", "replace")
                failure = f"{self.url} answered HTTP {exc.code}: {detail}"
                if exc.code not in RETRY_STATUSES:
                    raise GenerationError(failure) from exc
                asked = retry_after_seconds(exc.headers.get("Retry-After"))
                error: Exception = exc
            except (urllib.error.URLError, OSError) as exc:
                if isinstance(getattr(exc, "reason", exc), TimeoutError):
                    # The timeout is spent already: waiting it out again would stall the turn.
                    raise GenerationError(
                        f"{self.url} did not answer within {self.timeout:g} s"
                    ) from exc
                failure, asked, error = f"cannot reach {self.url}: {exc}", None, exc
            wait = self.retry.backoff * 2 ** (attempt - 1) if asked is None else asked
            left = self.retry.max_wait - waited
            if attempt >= attempts:
                raise GenerationError(
                    f"{failure} (gave up after {attempt} attempt{'s' if attempt > 1 else ''})"
                ) from error
            if wait > left:
                raise GenerationError(
                    f"{failure} (asked to wait {wait:g} s, more than the {left:g} s left)"
                ) from error
            self.sleep(wait)
            waited += wait
