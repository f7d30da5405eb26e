"""Fuzz every route of the HTTP API from its OpenAPI description; a 5xx is a bug.

    python scripts/fuzz_api.py [--requests 5000] [--json FILE]

Starts ``shopbot serve`` on the demo store (extractive answers, so thousands
of requests take minutes; generation is covered by the injection and load
tests), reads ``GET /openapi.json`` and lets hypothesis generate requests for
every operation in it: bodies that follow the schema, bodies that almost do
(wrong types, missing or extra fields, huge or odd unicode strings, lone
surrogate escapes), arbitrary JSON and raw bytes; random path and query
parameters; with and without the admin token and ``Accept: text/event-stream``.
Reports the status codes seen and every 5xx (with the request that caused it).
``request_strategy`` is shared with tests/test_fuzz.py.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ADMIN_TOKEN = "fuzz-admin-token"
# Text a customer might plausibly type, plus the awkward corners of unicode.
TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "hi",
            "where is my order #W2611340?",
            "my email is noah.brown7922@example.com",
            "Is shipping free?",
            "/restart",
            "/handoff",
            "yes",
            "\u0000",
            "' OR 1=1 --",
            "<script>alert(1)</script>",
            "../../etc/passwd",
            "退货政策是什么？",
            "\U0001f600" * 50,
        ]
    ),
    st.text(min_size=1990, max_size=2010, alphabet="ab "),
)


@dataclass
class Request:
    """One generated HTTP request."""

    method: str
    path: str
    body: bytes | None
    headers: dict[str, str]

    def describe(self) -> str:
        return f"{self.method} {self.path} {self.headers} {(self.body or b'')[:200]!r}"


def from_schema(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values that follow a (small subset of) JSON Schema."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        return st.one_of(*(from_schema({**schema, "type": k}, depth) for k in kind))
    if kind == "string":
        return TEXT.filter(
            lambda s: schema.get("minLength", 0) <= len(s) <= schema.get("maxLength", 10**6)
        ) | st.text(max_size=5)
    if kind == "integer":
        return st.integers(-(2**40), 2**40)
    if kind == "number":
        return st.floats(allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = schema.get("items", {"type": "string"})
        return st.lists(from_schema(items, depth + 1), max_size=3)
    if kind == "object":
        props = schema.get("properties", {})
        if not props or depth > 2:
            return st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: from_schema(v, depth + 1) for k, v in props.items() if k in required},
            optional={k: from_schema(v, depth + 1) for k, v in props.items() if k not in required},
        )
    return st.none()


JSON_ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def _mutate(value: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A schema-following object with one field dropped or swapped for a wrong type."""
    if not value:
        return st.just(value)
    key = st.sampled_from(sorted(value))
    return st.one_of(
        key.map(lambda k: {kk: vv for kk, vv in value.items() if kk != k}),
        st.tuples(key, JSON_ANY).map(lambda kv: {**value, kv[0]: kv[1]}),
    )


def body_strategy(schema: dict[str, Any] | None) -> st.SearchStrategy[bytes | None]:
    valid = from_schema(schema) if schema else JSON_ANY
    almost = valid.flatmap(_mutate) if schema and schema.get("type") == "object" else valid
    encoded = st.one_of(
        valid.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")),
        almost.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")),
        JSON_ANY.map(lambda v: json.dumps(v).encode()),
        # JSON escapes that spell lone surrogates, which are not text.
        st.sampled_from([b'{"sender": "\\ud800", "message": "x"}', b'{"text": "\\udfff"}']),
        st.binary(max_size=64),
        st.none(),
    )
    return encoded


def _param_value() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=20).filter(lambda s: "\x00" not in s), st.sampled_from(["1", "-1", ""])
    )


def request_strategy(spec: dict[str, Any]) -> st.SearchStrategy[Request]:
    """Requests for every operation in ``spec``, weighted equally per operation."""
    operations = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            schema = (
                op.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            operations.append((method.upper(), path, op, schema))

    @st.composite
    def one(draw: Any) -> Request:
        method, path, op, schema = draw(st.sampled_from(operations))
        url = path
        query: dict[str, str] = {}
        headers = {"Content-Type": "application/json"}
        for param in op.get("parameters", []):
            value = draw(_param_value())
            if param["in"] == "path":
                url = url.replace("{" + param["name"] + "}", urllib.parse.quote(value or "x"))
            elif param["in"] == "query" and (param.get("required") or draw(st.booleans())):
                query[param["name"]] = value
            elif param["in"] == "header" and draw(st.booleans()):
                # Only what an HTTP client can send: printable latin-1, no line breaks.
                headers[param["name"]] = "".join(c for c in value if 32 <= ord(c) < 256)
        # Unlisted template parameters (undescribed routes) still get a value.
        while "{" in url and "}" in url:
            start, end = url.index("{"), url.index("}")
            url = url[:start] + urllib.parse.quote(draw(_param_value()) or "x") + url[end + 1 :]
        if query:
            url += "?" + urllib.parse.urlencode(query)
        if draw(st.booleans()):
            headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        elif draw(st.booleans()):
            headers["Authorization"] = draw(st.sampled_from(["Bearer nope", "Basic eA==", "x"]))
        if draw(st.integers(0, 3)) == 0:
            headers["Accept"] = "text/event-stream"
        if draw(st.integers(0, 3)) == 0:
            headers["Origin"] = draw(st.sampled_from(["https://evil.example", "null", "x"]))
        body = draw(body_strategy(schema)) if method in ("POST", "PUT", "PATCH") else None
        return Request(method, url, body, headers)

    return one()


def send(host: str, port: int, req: Request, timeout: float = 30.0) -> int:
    """Send ``req`` and return the status; streams (SSE) are closed after the headers."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(req.method, req.path, body=req.body, headers=req.headers)
        resp = conn.getresponse()
        if "text/event-stream" not in resp.getheader("Content-Type", ""):
            resp.read()
        return resp.status
    finally:
        conn.close()


def fuzz(host: str, port: int, n: int, seed: int = 0) -> dict[str, Any]:
    """Run ``n`` generated requests against a server; the report of statuses and 5xx."""
    with urllib.request.urlopen(f"http://{host}:{port}/openapi.json") as resp:
        spec = json.loads(resp.read())
    statuses: Counter[int] = Counter()
    operations: Counter[str] = Counter()
    failures: list[str] = []

    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(request_strategy(spec))
    def run(req: Request) -> None:
        status = send(host, port, req)
        statuses[status] += 1
        operations[f"{req.method} {req.path.split('?')[0]}"] += 1
        if status >= 500:
            failures.append(f"{status}: {req.describe()}")

    run()
    return {
        "requests": sum(statuses.values()),
        "operations_in_spec": sum(len(ops) for ops in spec["paths"].values()),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors": len(failures),
        "examples": failures[:10],
    }


def main() -> int:
    from serve_process import ServerProcess

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=5000)
    ap.add_argument("--store", type=Path, default=ROOT / "knowledge_base" / "demo_store")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="shopbot-fuzz-") as tmp:
        server = ServerProcess(
            args.store,
            Path(tmp) / "fuzz.db",
            llm_backend="none",
            env={"SHOPBOT_ADMIN_TOKEN": ADMIN_TOKEN},
        )
        server.start()
        started = time.perf_counter()
        try:
            report = fuzz("127.0.0.1", server.port, args.requests)
        finally:
            server.stop()
        report["seconds"] = round(time.perf_counter() - started, 1)
        report["server_log_tracebacks"] = server.log_path.read_text(errors="replace").count(
            "Traceback"
        )
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0 if report["server_errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
