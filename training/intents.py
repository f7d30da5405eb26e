"""The intent classifier: frozen MiniLM sentence embeddings + a logistic-regression head,
averaged with a word/character TF-IDF logistic-regression head.

Why this shape: the encoder is already loaded for retrieval, so an intent model
costs one small linear layer (a few seconds to train, well under a millisecond to
apply) and nothing else to download. The lexical head (``LexicalHead``) adds
what the embedding blurs, typos and names; averaged, the two beat either alone
on held-out validation data.

Out of scope is decided twice, on purpose:
1. an explicit ``oos`` class, trained on the training data's own ``oos`` rows
   (for a store: the shipped off-topic examples);
2. a rejection threshold on an in-scope score, *chosen on a held-out validation
   split* of the training data. The score is the mean of the best in-scope
   probability and the cosine similarity to the nearest training example of
   the few most probable in-scope intents (kNN distance in embedding space):
   the probability alone is overconfident far from the data (a linear head
   extrapolates), the distance sees that. On CLINC150 val this score separates
   out-of-scope queries better than either part alone (docs/benchmarks.md,
   "Intents and retrieval").
   The threshold maximises balanced accuracy (in-scope accuracy + oos recall) on
   validation when the data has enough ``oos`` rows to measure recall, within a
   cap on wrongly rejected in-scope utterances; otherwise it is the largest that
   wrongly rejects at most ``max_false_oos`` of them. It is stored in the manifest.

A saved model is a folder: ``intent_model.json`` (what made it, the threshold,
validation metrics) and ``head.npz`` (the weights and the in-scope training
embeddings for the kNN score, as plain numpy arrays, no pickle).

The training data is read by :mod:`training.intent_data`, embedded through
:mod:`training.embedding_cache`; :mod:`training.intent_eval` scores a trained
model on a test set. Typical use::

    texts, labels = builtin_training_data(store_dir / "intents.csv")
    clf = IntentClassifier.train(texts, labels, get_encoder())
    clf.save(out_dir)
    IntentClassifier.load(out_dir, encoder).predict(["where is my parcel?"])
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from bot.nlu import intent_model
from bot.nlu.intent_model import (
    FORMAT,
    FORMAT_VERSION,
    KNN_TOP_INTENTS,
    group_support,
    in_scope_score,
    knn_top_intents,
    lexical_vectorizer,
    softmax_head,
)
from training.embedding_cache import EmbeddingCache

VAL_FRACTION = 0.1  # share of each intent held out to choose the threshold
MAX_FALSE_OOS = 0.01  # share of in-scope val utterances rejected when no oos rows are given
# With oos rows in the training data: at most this share of in-scope val utterances
# may be rejected while maximising balanced accuracy (the threshold is chosen, the cap
# keeps one unlucky validation split from rejecting a large part of real traffic).
MAX_FALSE_OOS_CAP = 0.05
MIN_OOS_VAL = 8  # oos rows needed in validation to measure recall at all
OOS_VAL_FRACTION = 0.3  # oos rows are few; hold more of them out to measure recall
HEAD_C = 10.0  # inverse L2 strength; normalised 384-d inputs need a weak penalty


# --------------------------------------------------------------------------- the classifier


def _fit_head(x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    # class_weight="balanced": Bitext has 4,366 payment_issue rows but 36
    # cancel_order rows; unweighted, the small intents would be drowned out.
    model = LogisticRegression(C=HEAD_C, max_iter=1000, class_weight="balanced", random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; accuracy is checked on val
        model.fit(x, y)
    return model.coef_.astype(np.float32), model.intercept_.astype(np.float32)


class LexicalHead(intent_model.LexicalHead):
    """The run-time lexical head (``bot.nlu.intent_model.LexicalHead``) with its fitting:
    scikit-learn vectorisers and logistic regression, kept as plain arrays."""

    @classmethod
    def fit(cls, texts: Sequence[str], y: np.ndarray, n_classes: int, seed: int) -> LexicalHead:
        from scipy.sparse import hstack
        from sklearn.linear_model import LogisticRegression

        words, chars = lexical_vectorizer("word"), lexical_vectorizer("char")
        x = hstack([words.fit_transform(texts), chars.fit_transform(texts)]).tocsr()
        model = LogisticRegression(
            C=HEAD_C, max_iter=1000, class_weight="balanced", random_state=seed
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter; accuracy is checked on val
            model.fit(x, y)
        # One row per intent, trained or not: an intent absent from ``y`` (a class
        # held out entirely by the validation split) gets probability ~0.
        coef = np.zeros((n_classes, x.shape[1]), dtype=np.float32)
        intercept = np.full(n_classes, -1e4, dtype=np.float32)
        classes = model.classes_.astype(int)
        if len(classes) == 2:  # scikit-learn's one-logit binary model: logits [0, z]
            coef[classes[1]], intercept[classes[0]], intercept[classes[1]] = (
                model.coef_[0],
                0.0,
                model.intercept_[0],
            )
        else:
            coef[classes], intercept[classes] = model.coef_, model.intercept_

        def terms(vectorizer: Any) -> list[str]:
            ordered = [""] * len(vectorizer.vocabulary_)
            for term, i in vectorizer.vocabulary_.items():
                ordered[i] = term
            return ordered

        # float16 halves the saved folder; the model in memory is the saved one.
        coef = coef.astype(np.float16).astype(np.float32)
        return cls(terms(words), words.idf_, terms(chars), chars.idf_, coef, intercept)


class IntentClassifier(intent_model.IntentClassifier):
    """The run-time intent model (``bot.nlu.intent_model.IntentClassifier``) with its
    training: embed, choose the rejection threshold on validation, refit on all."""

    @classmethod
    def train(
        cls,
        texts: list[str],
        labels: list[str],
        encoder: Any,
        oos_label: str = "oos",
        seed: int = 0,
        progress: bool = True,
        max_false_oos: float = MAX_FALSE_OOS,
    ) -> IntentClassifier:
        """Train on ``texts``/``labels``; deterministic for a given ``seed``.

        Steps: embed (cached on disk), fit on 90 % and choose the rejection
        threshold on the held-out 10 %, then refit on everything.
        """
        from tqdm.auto import tqdm

        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        intents = sorted(set(labels))
        if len([i for i in intents if i != oos_label]) < 1 or len(intents) < 2:
            raise ValueError(
                "intent training needs at least two labels, one of them in scope "
                f"(got {intents or 'none'})"
            )
        started = time.time()
        steps = tqdm(total=3, desc="intent model", disable=not progress, unit="step")
        steps.set_postfix_str("embedding")
        cache = EmbeddingCache(encoder.name, encoder.dim)
        x = cache.encode(list(texts), encoder, progress=progress)
        steps.update()

        y = np.array([intents.index(label) for label in labels])
        tr, va = _split(labels, seed, oos_label)
        steps.set_postfix_str("choosing the oos threshold")
        val_metrics: dict[str, Any] = {}
        threshold = 0.0
        if len(va) and len(set(y[tr].tolist())) >= 2:
            coef, intercept = _fit_head(x[tr], y[tr], seed)
            classes = sorted(set(y[tr].tolist()))  # label indices the val head knows
            probs = np.zeros((len(va), len(intents)), dtype=np.float32)
            probs[:, classes] = softmax_head(x[va], coef, intercept)
            lexical = _fit_lexical([texts[i] for i in tr], y[tr], len(intents), seed)
            if lexical is not None:
                probs = (probs + lexical.probs([texts[i] for i in va])) / 2
            oos_index = intents.index(oos_label) if oos_label in intents else None
            sup, offsets = group_support(x[tr], y[tr], len(intents), oos_index)
            knn = knn_top_intents(x[va], probs, sup, offsets, oos_index)
            threshold, val_metrics = _validate(probs, knn, y[va], intents, oos_label, max_false_oos)
        steps.update()

        steps.set_postfix_str("fitting on all examples")
        coef, intercept = _fit_head(x, y, seed)
        lexical = _fit_lexical(list(texts), y, len(intents), seed)
        steps.update()
        steps.close()

        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "encoder": encoder.name,
            "dim": int(encoder.dim),
            "head": {"type": "logistic_regression", "C": HEAD_C, "class_weight": "balanced"},
            "lexical_head": None
            if lexical is None
            else {
                "type": "logistic_regression on word 1-2-gram + char 2-5-gram TF-IDF",
                "C": HEAD_C,
                "features": lexical.n_features,
                "combined": "mean of the two heads' probabilities",
            },
            "intents": intents,
            "counts": dict(sorted(Counter(labels).items())),
            "examples": len(texts),
            "oos_label": oos_label,
            "threshold": round(threshold, 6),
            "oos_score": (
                "mean of best in-scope probability and cosine to the nearest training "
                f"example of the {KNN_TOP_INTENTS} most probable in-scope intents"
            ),
            "threshold_rule": val_metrics.pop("threshold_rule", "no validation split"),
            "validation": {"fraction": VAL_FRACTION, "examples": len(va), **val_metrics},
            "train_seconds": round(time.time() - started, 2),
            "seed": seed,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        oos_index = intents.index(oos_label) if oos_label in intents else None
        support, offsets = group_support(x, y, len(intents), oos_index)
        # float16 halves the folder; cosine to 3 decimals is all the score needs.
        support = support.astype(np.float16)
        return cls(
            encoder,
            intents,
            coef,
            intercept,
            threshold,
            oos_label,
            manifest,
            support,
            offsets,
            lexical,
        )


def _fit_lexical(
    texts: Sequence[str], y: np.ndarray, n_classes: int, seed: int
) -> LexicalHead | None:
    """The lexical head, or None when the texts give it no vocabulary (the
    embedding head then works alone, as in a format-3 model)."""
    try:
        return LexicalHead.fit(texts, y, n_classes, seed)
    except ValueError as exc:  # scikit-learn: "empty vocabulary; perhaps the documents ..."
        warnings.warn(f"intent model without its lexical head: {exc}", stacklevel=2)
        return None


def _split(
    labels: Sequence[str], seed: int, oos_label: str = "oos"
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/validation indices; intents with < 3 examples stay in train."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    train, val = [], []
    for label in sorted(by_label):
        idx = np.array(by_label[label])
        rng.shuffle(idx)
        share = OOS_VAL_FRACTION if label == oos_label else VAL_FRACTION
        n_val = int(round(len(idx) * share)) if len(idx) >= 3 else 0
        n_val = max(n_val, 1) if len(idx) >= 3 else 0
        val.extend(idx[:n_val].tolist())
        train.extend(idx[n_val:].tolist())
    return np.array(sorted(train), dtype=int), np.array(sorted(val), dtype=int)


def _choose_threshold(top_in_scope: np.ndarray, max_false_oos: float) -> float:
    """Largest threshold rejecting at most ``max_false_oos`` of in-scope val utterances.

    ``top_in_scope`` holds, for each in-scope validation utterance the oos class
    did not already reject, its best in-scope probability.
    """
    if top_in_scope.size == 0:
        return 0.0
    allowed = int(np.floor(max_false_oos * top_in_scope.size))
    ordered = np.sort(top_in_scope)
    # Rejecting p < t: with t = ordered[allowed] exactly `allowed` values fall below.
    return float(ordered[min(allowed, ordered.size - 1)])


def _validate(
    probs: np.ndarray,
    knn: np.ndarray | None,
    y: np.ndarray,
    intents: list[str],
    oos_label: str,
    max_false_oos: float,
) -> tuple[float, dict[str, Any]]:
    """Choose the threshold on validation data and report metrics there."""
    oos = intents.index(oos_label) if oos_label in intents else None
    masked = probs.copy()
    if oos is not None:
        masked[:, oos] = -1.0
    best = masked.argmax(axis=1)
    top = masked.max(axis=1)
    score = in_scope_score(probs, oos, knn)
    p_oos = probs[:, oos] if oos is not None else np.zeros(len(y))
    gold_oos = y == oos if oos is not None else np.zeros(len(y), dtype=bool)
    class_rejects = p_oos >= top
    in_scope = ~gold_oos
    threshold = _choose_threshold(score[in_scope & ~class_rejects], max_false_oos)
    rule = (
        f"largest t such that at most {max_false_oos:.0%} of in-scope validation "
        "utterances score below t"
    )
    if gold_oos.sum() >= MIN_OOS_VAL and (in_scope & ~class_rejects).any():
        threshold = _balanced_threshold(
            score, best == y, in_scope, gold_oos, class_rejects, max(threshold, 0.0)
        )
        rule = (
            "maximises (in-scope accuracy + oos recall) / 2 on validation, rejecting at "
            f"most {MAX_FALSE_OOS_CAP:.0%} of in-scope validation utterances"
        )
    rejected = class_rejects | (score < threshold)
    metrics: dict[str, Any] = {
        "in_scope_accuracy": masked_mean((best == y) & ~rejected, in_scope),
        "false_oos_rate": masked_mean(rejected, in_scope),
        "oos_recall": masked_mean(rejected, gold_oos) if gold_oos.any() else None,
        "in_scope_examples": int(in_scope.sum()),
        "oos_examples": int(gold_oos.sum()),
    }
    pred = np.where(rejected, -1, best)
    gold = np.where(gold_oos, -1, y)
    metrics["accuracy"] = round(float((pred == gold).mean()), 4)
    metrics["threshold_rule"] = rule
    return threshold, metrics


def _balanced_threshold(
    score: np.ndarray,
    correct: np.ndarray,
    in_scope: np.ndarray,
    gold_oos: np.ndarray,
    class_rejects: np.ndarray,
    floor: float,
) -> float:
    """Threshold maximising (in-scope accuracy + oos recall) / 2, within the false-oos cap.

    Candidates are the in-scope validation scores (each is where one more in-scope
    utterance flips to rejected); never below ``floor`` (the budget rule's threshold).
    """
    cap = _choose_threshold(score[in_scope & ~class_rejects], MAX_FALSE_OOS_CAP)
    candidates = np.unique(score[in_scope & ~class_rejects])
    candidates = candidates[(candidates >= floor) & (candidates <= cap)]
    best_t, best_value = floor, -1.0
    for t in np.r_[floor, candidates]:
        rejected = class_rejects | (score < t)
        value = (correct & ~rejected)[in_scope].mean() + rejected[gold_oos].mean()
        if value > best_value + 1e-9:
            best_t, best_value = float(t), float(value)
    return best_t


def masked_mean(values: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean of ``values`` where ``mask`` holds, to 4 decimals; None for an empty mask."""
    return round(float(values[mask].mean()), 4) if mask.any() else None
