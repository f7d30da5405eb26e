"""Benchmark the working core: store build time, intent accuracy, turn latency.

Usage::

    python scripts/bench_core.py [--only build intents latency] [--turns 100]
        [--generated 20] [--llm-model qwen2.5-0.5b] [--max-seconds 1800] [--json out.json]

Three measurements, printed as one JSON document:

1. **build** - the bundled demo store is copied (without ``.shopbot``) to a temp
   folder and ``knowledge_base.build.ensure_built`` is timed three times:
   *cold* (``SHOPBOT_CACHE_DIR`` points at an empty folder, so every intent
   example is embedded), *warm* (artifacts deleted, the default embedding cache
   in place) and *no-op* (nothing changed, so only hashing).
2. **intents** - a stratified 80/20 split (``--seed``, default 0) of the shipped
   Bitext data; trained on the 80 % plus the shipped small-talk and ``oos``
   examples, scored on the 20 % with ``training.intent_eval.evaluate_intents``.
3. **latency** - ``shopbot serve`` on the built copy, as a subprocess on a free
   loopback port, and a client in this process (stdlib ``http.client``, one
   request at a time). Non-generated turns (greeting, product questions, order
   status with verification, out-of-scope abstention) over JSON; generated
   turns (FAQ/policy questions answered by the chat LM) over server-sent events,
   timing the first ``token`` event and the ``done`` event. A ``GET /health``
   before every turn is the baseline of the same run: the machine is shared, so
   the ratios turn p50 / health p50 travel better than the milliseconds.

Every loop is bounded by a count and by ``--max-seconds`` for the latency part.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

DEMO_STORE = ROOT / "knowledge_base" / "demo_store"
DATA = ROOT / "knowledge_base" / "data"

# -- the conversations ---------------------------------------------------------
GREETINGS = ["hi", "hello there", "good morning", "hey, anyone there?"]
PRODUCT_QUESTIONS = [
    "how much is the t-shirt in blue?",
    "do you have the running shoes in size 10?",
    "what colors does the backpack come in?",
    "how much are the wireless earbuds?",
    "is the yoga mat in stock?",
]
OUT_OF_SCOPE = [
    "what will the weather be like on mars next tuesday?",
    "who won the football world cup in 1998?",
    "can you write me a poem about cats?",
    "what is the capital of australia?",
]
# FAQ/policy questions worded unlike the FAQ titles, so retrieval (not string
# matching) finds the passages and the chat LM writes the answer.
KNOWLEDGE_QUESTIONS = [
    "how long does it take to get my money back after a return?",
    "do you ship internationally?",
    "what payment methods do you accept?",
    "how long does standard delivery usually take?",
    "do I have to pay to send something back?",
    "can I swap a shirt for a different size?",
    "is there a warranty on electronics?",
    "how do I check how much is left on my gift card?",
    "can I cancel an order once it has shipped?",
    "what should I do if my package arrived damaged?",
]


# -- helpers -------------------------------------------------------------------
def percentiles(values: list[float]) -> dict[str, Any]:
    """n, p50, p95, mean and max of ``values`` (milliseconds), rounded."""
    import numpy as np

    if not values:
        return {"n": 0}
    arr = np.asarray(values, dtype=float)
    return {
        "n": len(values),
        "p50": round(float(np.percentile(arr, 50)), 2),
        "p95": round(float(np.percentile(arr, 95)), 2),
        "mean": round(float(arr.mean()), 2),
        "max": round(float(arr.max()), 2),
    }


def ratio(a: dict[str, Any], b: dict[str, Any], key: str = "p50") -> float | None:
    if a.get(key) is None or not b.get(key):
        return None
    return round(a[key] / b[key], 1)


def copy_demo_store(dst: Path) -> Path:
    """A writable copy of the demo store without its built artifacts."""
    shutil.copytree(DEMO_STORE, dst, ignore=shutil.ignore_patterns(".shopbot"))
    return dst


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


# -- 1. build ------------------------------------------------------------------
def bench_build(store: Path, work: Path) -> dict[str, Any]:
    """Cold, warm and no-op ``ensure_built`` on a fresh copy of the demo store."""
    from knowledge_base.build import ensure_built
    from knowledge_base.embeddings import get_encoder

    t = time.perf_counter()
    encoder = get_encoder()
    encoder_seconds = time.perf_counter() - t

    def timed() -> tuple[float, Any]:
        t0 = time.perf_counter()
        art = ensure_built(store, progress=False, encoder=encoder)
        return time.perf_counter() - t0, art

    # Cold: an empty cache root, so every intent example is embedded. Only the
    # build reads the cache here, so the chat models living under the same root
    # do not matter; the variable is restored before anything else runs.
    saved = os.environ.get("SHOPBOT_CACHE_DIR")
    os.environ["SHOPBOT_CACHE_DIR"] = str(work / "empty-cache")
    try:
        cold_s, art = timed()
    finally:
        if saved is None:
            os.environ.pop("SHOPBOT_CACHE_DIR", None)
        else:
            os.environ["SHOPBOT_CACHE_DIR"] = saved
    assert art.rebuilt
    cold_manifest = art.manifest

    shutil.rmtree(store / ".shopbot")
    warm_s, art = timed()
    assert art.rebuilt
    noop_s, again = timed()
    assert not again.rebuilt, "a build with unchanged inputs rebuilt"
    m = art.manifest
    return {
        "documents": m.get("documents"),
        "intent_examples": m.get("intent_examples"),
        "encoder_load_seconds": round(encoder_seconds, 2),
        "cold_seconds": round(cold_s, 2),
        "cold_index_seconds": cold_manifest.get("index_seconds"),
        "cold_intent_seconds": cold_manifest.get("intent_seconds"),
        "warm_seconds": round(warm_s, 2),
        "warm_index_seconds": m.get("index_seconds"),
        "warm_intent_seconds": m.get("intent_seconds"),
        "noop_seconds": round(noop_s, 3),
    }


# -- 2. intents ------------------------------------------------------------------
def read_rows(path: Path) -> list[tuple[str, str]]:
    from training.intent_data import read_intents_csv

    return read_intents_csv(path)


def bench_intents(seed: int, test_fraction: float) -> dict[str, Any]:
    """Stratified hold-out of Bitext; train on the rest plus small talk and oos."""
    from sklearn.model_selection import train_test_split

    from knowledge_base.embeddings import get_encoder
    from training.intent_eval import evaluate_intents

    bitext = read_rows(DATA / "bitext_intents.csv")
    labels = [i for _, i in bitext]
    train, test = train_test_split(
        bitext, test_size=test_fraction, stratify=labels, random_state=seed
    )
    extra = read_rows(DATA / "smalltalk.csv") + read_rows(DATA / "oos.csv")
    result = evaluate_intents(
        list(train) + extra, list(test), get_encoder(), seed=seed, progress=False
    )
    keep = (
        "accuracy",
        "macro_f1",
        "in_scope_accuracy",
        "false_oos_rate",
        "train_seconds",
        "predict_ms_p50",
        "warnings",
    )
    out = {k: result.get(k) for k in keep}
    for k in ("accuracy", "macro_f1", "in_scope_accuracy", "false_oos_rate"):
        if isinstance(out[k], float):
            out[k] = round(out[k], 4)
    out["predict_vs_baseline"] = predict_vs_baseline(list(train) + extra, list(test), seed)
    out.update(
        bitext_rows=len(bitext),
        bitext_intents=len(set(labels)),
        train_rows=len(train) + len(extra),
        test_rows=len(test),
        seed=seed,
        test_fraction=test_fraction,
    )
    return out


def predict_vs_baseline(
    train: list[tuple[str, str]], test: list[tuple[str, str]], seed: int, rounds: int = 4
) -> dict[str, Any]:
    """One-utterance prediction, shipped vs the configuration before 2026-11-23 evening.

    Baseline: the embedding head alone, the kNN part of the oos score over every
    in-scope training row (format-2 scoring) and a one-thread onnxruntime
    session with spin-waiting. Shipped: embedding + lexical heads, kNN over the
    5 most probable intents' rows, two threads that sleep.
    Same model, same 200 test utterances, timed in blocks taken in turn.
    """
    import copy

    from knowledge_base.embeddings import get_encoder
    from knowledge_base.onnx_export import OnnxSentenceModel
    from training.intents import IntentClassifier

    encoder = get_encoder()
    shipped = IntentClassifier.train(
        [t for t, _ in train], [i for _, i in train], encoder, seed=seed, progress=False
    )
    if encoder.onnx is None:
        return {"skipped": f"encoder backend is {encoder.backend}, not onnx"}
    old_encoder = copy.copy(encoder)
    old_encoder.onnx = OnnxSentenceModel(encoder.onnx.path, threads=1, spinning=True)
    old_encoder._recent = type(encoder._recent)()
    baseline = copy.copy(shipped)
    baseline.encoder, baseline.support_offsets, baseline.lexical = old_encoder, None, None
    texts = [t for t, _ in test[:200]]
    x = encoder.encode(texts)
    same = sum(
        a[0][0] == b[0][0]
        for a, b in zip(
            shipped.rank_embeddings(x, texts), baseline.rank_embeddings(x, texts), strict=True
        )
    )
    times: dict[str, list[float]] = {"shipped": [], "baseline": []}
    size = len(texts) // rounds
    for r in range(rounds):
        for name, clf in (("shipped", shipped), ("baseline", baseline)):
            for text in texts[r * size : (r + 1) * size]:
                clf.encoder._recent.clear()  # every call encodes, as for a new turn
                t = time.perf_counter()
                clf.predict([text])
                times[name].append((time.perf_counter() - t) * 1000)
    p50 = {k: percentiles(v)["p50"] for k, v in times.items()}
    return {
        "predict_ms_p50": p50,
        "p50_ratio_baseline_over_shipped": round(p50["baseline"] / p50["shipped"], 2),
        "same_top_intent_share": round(same / len(texts), 4),
        "utterances": len(texts),
    }


# -- 3. latency ------------------------------------------------------------------
class Client:
    """Loopback HTTP client, one request at a time, fresh connection each (as for health)."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port, self.timeout = port, timeout
        self.tokens: dict[str, str] = {}  # sender -> its conversation's token

    def _conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)

    def health(self) -> float:
        conn = self._conn()
        t0 = time.perf_counter()
        conn.request("GET", "/health")
        resp = conn.getresponse()
        body = resp.read()
        ms = (time.perf_counter() - t0) * 1000
        conn.close()
        if resp.status != 200 or json.loads(body) != {"status": "ok"}:
            raise RuntimeError(f"/health answered {resp.status}: {body[:200]!r}")
        return ms

    def _payload(self, sender: str, message: str) -> str:
        """The request body, with the conversation's token once its first reply gave one."""
        body = {"sender": sender, "message": message}
        if sender in self.tokens:
            body["token"] = self.tokens[sender]
        return json.dumps(body)

    def chat(self, sender: str, message: str) -> tuple[float, dict[str, Any]]:
        conn = self._conn()
        payload = self._payload(sender, message)
        t0 = time.perf_counter()
        conn.request("POST", "/api/chat", payload, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = resp.read()
        ms = (time.perf_counter() - t0) * 1000
        conn.close()
        if resp.status != 200:
            raise RuntimeError(f"/api/chat answered {resp.status}: {body[:300]!r}")
        data = json.loads(body)
        if data.get("token"):
            self.tokens[sender] = data["token"]
        return ms, data

    def chat_stream(self, sender: str, message: str) -> dict[str, Any]:
        """One turn over SSE: ms to the first ``token`` / any text event, and to ``done``."""
        conn = self._conn()
        payload = self._payload(sender, message)
        t0 = time.perf_counter()
        conn.request(
            "POST",
            "/api/chat",
            payload,
            {"Content-Type": "application/json", "Accept": "text/event-stream"},
        )
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"/api/chat (SSE) answered {resp.status}: {resp.read()[:300]!r}")
        first_token = first_text = None
        counts: dict[str, int] = {}
        event, done = None, None
        while True:
            line = resp.readline()
            if not line:
                break
            line = line.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
                now = (time.perf_counter() - t0) * 1000
                counts[event] = counts.get(event, 0) + 1
                if event == "token" and first_token is None:
                    first_token = now
                if event in ("token", "replace") and first_text is None:
                    first_text = now
            elif line.startswith("data: ") and event == "done":
                done = json.loads(line[6:])
            elif line.startswith("data: ") and event == "error":
                raise RuntimeError(f"the server streamed an error: {line[6:]}")
        total = (time.perf_counter() - t0) * 1000
        conn.close()
        if done is None:
            raise RuntimeError("the stream ended without a 'done' event")
        if done.get("token"):
            self.tokens[sender] = done["token"]
        return {
            "first_token_ms": first_token,
            "first_text_ms": first_text,
            "total_ms": total,
            "events": counts,
            "reply": done,
        }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(store: Path, llm_model: str, work: Path, timeout: float):  # type: ignore[no-untyped-def]
    """``shopbot serve`` as a subprocess; returns (process, port, start-up seconds)."""
    port = free_port()
    log = open(work / "server.log", "wb")  # noqa: SIM115 - closed with the process
    env = dict(os.environ, SHOPBOT_RATE_LIMIT_PER_MINUTE="0", PYTHONUNBUFFERED="1")
    cmd = [
        sys.executable,
        "-m",
        "bot.cli",
        "serve",
        "--store",
        str(store),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--llm-model",
        llm_model,
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    client = Client(port, timeout=5)
    while True:
        if proc.poll() is not None:
            log.close()
            tail = (work / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{tail}")
        if time.perf_counter() - t0 > timeout:
            stop_server(proc)
            raise RuntimeError(f"the server did not answer /health within {timeout:.0f} s")
        try:
            client.health()
            break
        except (OSError, RuntimeError, ValueError):
            time.sleep(0.5)
    return proc, port, time.perf_counter() - t0


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()  # SIGTERM: aiohttp shuts down gracefully and flushes the log
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def delivered_orders(store: Path, n: int) -> list[tuple[str, str]]:
    """(order id, customer email) of up to ``n`` delivered orders of distinct customers."""
    customers = {
        c["customer_id"]: c
        for c in map(json.loads, (store / "customers.jsonl").read_text().splitlines())
    }
    out, seen = [], set()
    for line in (store / "orders.jsonl").read_text().splitlines():
        order = json.loads(line)
        cid = order["customer_id"]
        if order["status"] == "delivered" and cid not in seen and cid in customers:
            seen.add(cid)
            out.append((order["order_id"], customers[cid]["email"]))
            if len(out) == n:
                break
    return out


def non_generated_script(store: Path, n: int) -> list[tuple[str, str, str, str, str]]:
    """``n`` turns as (kind, sender, message, expected action prefix, expected text).

    Kinds are interleaved so that drift in the machine's load spreads over all
    of them. The order-status pair is one conversation: the first turn must ask
    for verification, the second must report the order.
    """
    orders = delivered_orders(store, n)
    turns: list[tuple[str, str, str, str, str]] = []
    i = 0
    while len(turns) < n:
        g = GREETINGS[i % len(GREETINGS)]
        p = PRODUCT_QUESTIONS[i % len(PRODUCT_QUESTIONS)]
        o = OUT_OF_SCOPE[i % len(OUT_OF_SCOPE)]
        oid, email = orders[i % len(orders)]
        turns += [
            ("greeting", f"greet-{i}", g, "utter_", ""),
            ("product", f"product-{i}", p, "action_product_search", "$"),
            (
                "order_ask",
                f"order-{i}",
                f"where is my order {oid}?",
                "action_order_status",
                "verif",
            ),
            ("order_verified", f"order-{i}", f"my email is {email}", "action_order_status", oid),
            ("out_of_scope", f"oos-{i}", o, "action_abstain", ""),
        ]
        i += 1
    return turns[:n]


def bench_latency(
    store: Path, work: Path, args: argparse.Namespace, deadline: float
) -> dict[str, Any]:
    proc, port, startup = start_server(store, args.llm_model, work, args.startup_timeout)
    client = Client(port, timeout=args.request_timeout)
    run = f"{os.getpid()}-{int(time.time())}"
    health: list[float] = []
    by_kind: dict[str, list[float]] = {}
    actions: dict[str, dict[str, int]] = {}
    unexpected: list[dict[str, Any]] = []
    gen: dict[str, list[float]] = {"first_token": [], "first_text": [], "total": []}
    gen_actions: dict[str, int] = {}
    no_token = 0
    truncated = False
    try:
        for _ in range(5):  # warm-up: first requests pay for lazy imports and caches
            client.health()
            client.chat(f"warmup-{run}", "hi")
        for kind, sender, message, expected, text in non_generated_script(store, args.turns):
            if time.time() > deadline:
                truncated = True
                break
            health.append(client.health())
            ms, reply = client.chat(f"{sender}-{run}", message)
            action = str(reply.get("action"))
            actions.setdefault(kind, {})
            actions[kind][action] = actions[kind].get(action, 0) + 1
            if action == "action_answer":  # the LM wrote it: not a non-generated turn
                unexpected.append({"kind": kind, "message": message, "action": action})
                continue
            said = " ".join(m.get("text", "") for m in reply.get("messages", []))
            if not action.startswith(expected) or text.lower() not in said.lower():
                unexpected.append(
                    {"kind": kind, "message": message, "action": action, "reply": said[:200]}
                )
            by_kind.setdefault(kind, []).append(ms)
        for i in range(args.generated):
            if time.time() > deadline:
                truncated = True
                break
            question = KNOWLEDGE_QUESTIONS[i % len(KNOWLEDGE_QUESTIONS)]
            health.append(client.health())
            r = client.chat_stream(f"faq-{i}-{run}", question)
            action = str(r["reply"].get("action"))
            gen_actions[action] = gen_actions.get(action, 0) + 1
            if action != "action_answer":
                unexpected.append({"kind": "generated", "message": question, "action": action})
                continue
            if r["first_token_ms"] is None:
                no_token += 1  # grounding withdrew the text: only a 'replace' event
            else:
                gen["first_token"].append(r["first_token_ms"])
            if r["first_text_ms"] is not None:
                gen["first_text"].append(r["first_text_ms"])
            gen["total"].append(r["total_ms"])
    finally:
        stop_server(proc)

    all_non_gen = [ms for values in by_kind.values() for ms in values]
    h = percentiles(health)
    non_gen = {kind: percentiles(values) for kind, values in by_kind.items()}
    non_gen["all"] = percentiles(all_non_gen)
    generated = {k: percentiles(v) for k, v in gen.items()}
    return {
        "llm_model": args.llm_model,
        "server_startup_seconds": round(startup, 1),
        "health_ms": h,
        "non_generated_ms": non_gen,
        "generated_ms": generated,
        "generated_without_token_event": no_token,
        "ratios_to_health_p50": {
            "non_generated_p50": ratio(non_gen["all"], h),
            "non_generated_p95": round(non_gen["all"]["p95"] / h["p50"], 1)
            if all_non_gen and h.get("p50")
            else None,
            "generated_first_token_p50": ratio(generated["first_token"], h),
            "generated_total_p50": ratio(generated["total"], h),
        },
        "actions": {"non_generated": actions, "generated": gen_actions},
        "unexpected_actions": unexpected[:20],
        "truncated_by_time": truncated,
    }


# -- main ------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["build", "intents", "latency"],
        default=["build", "intents", "latency"],
    )
    parser.add_argument("--turns", type=int, default=100, help="non-generated turns")
    parser.add_argument("--generated", type=int, default=20, help="generated (LM) turns")
    parser.add_argument("--llm-model", default="qwen2.5-0.5b", help="e.g. smollm2-135m")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument(
        "--max-seconds", type=float, default=1800, help="time budget of the latency part"
    )
    parser.add_argument("--startup-timeout", type=float, default=600)
    parser.add_argument("--request-timeout", type=float, default=300)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.turns < 0 or args.generated < 0 or not 0 < args.test_fraction < 1:
        parser.error("--turns/--generated must be >= 0 and --test-fraction in (0, 1)")

    result: dict[str, Any] = {
        "command": "python scripts/bench_core.py " + " ".join(argv or sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S%z"),
        "machine_at_start": machine(),
    }
    work = Path(tempfile.mkdtemp(prefix="shopbot-bench-"))
    try:
        store = copy_demo_store(work / "demo")
        if "build" in args.only:
            print("bench_core: build ...", file=sys.stderr, flush=True)
            result["build"] = bench_build(store, work)
        if "intents" in args.only:
            print("bench_core: intents ...", file=sys.stderr, flush=True)
            result["intents"] = bench_intents(args.seed, args.test_fraction)
        if "latency" in args.only:
            print("bench_core: latency ...", file=sys.stderr, flush=True)
            if "build" not in args.only:
                from knowledge_base.build import ensure_built

                ensure_built(store, progress=False)
            deadline = time.time() + args.max_seconds
            result["latency"] = bench_latency(store, work, args, deadline)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["machine_at_end"] = machine()
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
