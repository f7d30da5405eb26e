"""The ``openai`` backend: any OpenAI-compatible ``/v1/chat/completions`` endpoint, over SSE.

llama.cpp server, vLLM, Ollama, OpenAI ...; standard library only.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator

from bot.answers.generators.base import GenerationError
from bot.answers.models import ModelLoadError


class OpenAIGenerator:
    """Any OpenAI-compatible chat endpoint, streamed with server-sent events.

    ``base_url`` is the server root or its ``/v1`` (``http://localhost:8000``
    and ``http://localhost:8000/v1`` both work). Uses only the standard
    library, so no extra dependency is needed.
    """

    def __init__(
        self, base_url: str, model: str, api_key: str | None = None, timeout: float = 60.0
    ) -> None:
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ModelLoadError(
                f"llm_base_url must be an http(s) URL of an OpenAI-compatible server, got {base_url!r}"
            )
        root = base_url.rstrip("/")
        self.url = root + ("/chat/completions" if root.endswith("/v1") else "/v1/chat/completions")
        self.model = model
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
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
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace")
            raise GenerationError(f"{self.url} answered HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise GenerationError(f"cannot reach {self.url}: {exc}") from exc
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
