"""The intent model at run time: load a trained model and rank a message's intents.

A frozen sentence-embedding head (logistic regression) averaged with a
word/character TF-IDF head (``LexicalHead``), an explicit ``oos`` class, and a
rejection threshold on an in-scope score (the mean of the best in-scope
probability and the cosine to the nearest training example of the most
probable intents). Training, the threshold's choice and evaluation are in
``training.intents``; this module only reads what a build saved:
``intent_model.json`` (what made it, the threshold) and ``head.npz`` (plain
numpy arrays, no pickle).

Typical use::

    IntentClassifier.load(artifacts.intents_dir, encoder).predict(["where is my parcel?"])
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

MODEL_MANIFEST = "intent_model.json"
HEAD_FILE = "head.npz"
FORMAT = "shopbot-intent-model"
# 2: kNN support embeddings + combined oos score; 3: support grouped by intent;
# 4: a lexical (TF-IDF) head averaged with the embedding head
FORMAT_VERSION = 4
MAX_RANKING = 10  # entries per text in ``predict``
# The kNN part of the oos score looks only at the training examples of the head's
# best few in-scope intents: an in-scope utterance's nearest neighbour is almost
# always among them, an out-of-scope one is far from all of them, and the lookup
# reads a few hundred vectors instead of the whole training set (the full product
# over ~20,000 x 384 floats was ~2 ms of a ~11 ms prediction). On CLINC150 the
# held-out validation split scores the same with 5 intents as with all of them
# (docs/benchmarks.md, "The default intent model since 2026-11-23 (evening)").
KNN_TOP_INTENTS = 5
# Vocabulary caps of the lexical head (the most frequent n-grams): they bound the
# saved folder (intents x features float16 weights) whatever the training set.
LEXICAL_MAX_WORD_FEATURES = 20_000
LEXICAL_MAX_CHAR_FEATURES = 40_000
# A language model (``LanguageIntentModel``) is saved in ``languages/<code>/`` of the
# store's intents folder, with its own manifest.
LANGUAGES_DIR = "languages"
LANGUAGE_MANIFEST = "language_model.json"
LANGUAGE_FORMAT = "shopbot-language-intent-model"
LANGUAGE_FORMAT_VERSION = 1


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits, shifted by the row maximum for stability."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_head(x: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Class probabilities of a (multinomial or binary) logistic regression."""
    z = x @ coef.T + intercept
    if coef.shape[0] == 1:  # scikit-learn stores a 2-class model as one logit
        p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
        return np.stack([1.0 - p1, p1], axis=1)
    return softmax(z)


class LexicalHead:
    """Word 1-2-gram + character 2-5-gram TF-IDF with a logistic-regression head.

    Beside the sentence-embedding head it sees the surface of the text: typos
    ("cancle my ordr"), product and brand names, and wording the embedding
    blurs. The two heads' probabilities are averaged. On CLINC150's held-out
    validation split that lifts in-scope accuracy from 0.958 to 0.966 at the
    same oos recall (docs/benchmarks.md, "Comparison of approaches").

    Fitted with scikit-learn; applied with the vectorisers' own analysers and
    the stored vocabulary and idf (sublinear tf, idf, L2 per analyser, exactly
    as ``TfidfVectorizer``), so a saved model is plain arrays, no pickle.
    """

    def __init__(
        self,
        word_terms: Sequence[str],
        word_idf: np.ndarray,
        char_terms: Sequence[str],
        char_idf: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
    ) -> None:
        self.word_terms, self.char_terms = list(word_terms), list(char_terms)
        self.word_idf = np.asarray(word_idf, dtype=np.float32)
        self.char_idf = np.asarray(char_idf, dtype=np.float32)
        # Stored features x intents, C-contiguous: a sparse row times it reads only
        # the rows of the n-grams present (times a transposed view, scipy would
        # copy the whole matrix first: ~20 ms per utterance on CLINC's 151 intents).
        self.coef_t = np.ascontiguousarray(np.asarray(coef, dtype=np.float32).T)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        offset = len(self.word_terms)
        self._parts = [
            (lexical_vectorizer("word").build_analyzer(), self.word_terms, self.word_idf, 0),
            (lexical_vectorizer("char").build_analyzer(), self.char_terms, self.char_idf, offset),
        ]
        self._index = [{t: i for i, t in enumerate(terms)} for _, terms, _, _ in self._parts]
        self.n_features = offset + len(self.char_terms)

    @property
    def coef(self) -> np.ndarray:
        """Weights, intents x features (a view)."""
        return self.coef_t.T

    def features(self, texts: Sequence[str]) -> Any:
        """The TF-IDF rows of ``texts`` (scipy CSR), as the fitted vectorisers give them."""
        from scipy.sparse import csr_matrix

        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for r, text in enumerate(texts):
            for (analyze, _, idf, offset), index in zip(self._parts, self._index, strict=True):
                counts = Counter(t for t in analyze(text) if t in index)
                if not counts:
                    continue
                idx = np.fromiter((index[t] for t in counts), dtype=np.int64, count=len(counts))
                v = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64))) * idf[idx]
                v /= np.linalg.norm(v)
                rows.extend([r] * len(idx))
                cols.extend((idx + offset).tolist())
                vals.extend(v.tolist())
        return csr_matrix(
            (np.asarray(vals, dtype=np.float32), (rows, cols)),
            shape=(len(texts), self.n_features),
        )

    def probs(self, texts: Sequence[str]) -> np.ndarray:
        z = np.asarray(self.features(texts) @ self.coef_t) + self.intercept
        return softmax(z).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        """What ``save`` writes into ``head.npz`` (``lexical_`` prefixed)."""
        return {
            "lexical_word_terms": np.array(self.word_terms, dtype=str),
            "lexical_word_idf": self.word_idf,
            "lexical_char_terms": np.array(self.char_terms, dtype=str),
            "lexical_char_idf": self.char_idf,
            "lexical_coef": self.coef.astype(np.float16),
            "lexical_intercept": self.intercept,
        }

    @classmethod
    def from_arrays(cls, head: Any) -> LexicalHead | None:
        if "lexical_coef" not in head.files:
            return None  # a format-2/3 model: the embedding head alone
        return cls(
            [str(t) for t in head["lexical_word_terms"]],
            head["lexical_word_idf"],
            [str(t) for t in head["lexical_char_terms"]],
            head["lexical_char_idf"],
            head["lexical_coef"],
            head["lexical_intercept"],
        )


def lexical_vectorizer(kind: str) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    if kind == "word":
        return TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, max_features=LEXICAL_MAX_WORD_FEATURES
        )
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        sublinear_tf=True,
        min_df=2,
        max_features=LEXICAL_MAX_CHAR_FEATURES,
    )


def knn_similarity(x: np.ndarray, support: np.ndarray, batch: int = 1024) -> np.ndarray:
    """Per row of ``x``, the cosine similarity to its nearest row of ``support``.

    Both are L2-normalised, so cosine is a dot product; batched to bound memory.
    """
    if support.size == 0:
        return np.zeros(len(x), dtype=np.float32)
    sup = np.asarray(support, dtype=np.float32)
    out = np.empty(len(x), dtype=np.float32)
    for start in range(0, len(x), batch):
        out[start : start + batch] = (x[start : start + batch] @ sup.T).max(axis=1)
    return out


def knn_top_intents(
    x: np.ndarray,
    probs: np.ndarray,
    support: np.ndarray,
    offsets: np.ndarray,
    oos_index: int | None,
    k: int = KNN_TOP_INTENTS,
) -> np.ndarray:
    """Per row, the cosine to its nearest support row among its ``k`` most probable intents.

    ``support`` is grouped by intent: rows ``offsets[i]:offsets[i + 1]`` are the
    in-scope training embeddings of intent ``i`` (empty for ``oos``).
    """
    masked = np.array(probs, dtype=np.float32, copy=True)
    if oos_index is not None:
        masked[:, oos_index] = -np.inf
    sizes = np.diff(offsets)
    masked[:, sizes == 0] = -np.inf  # intents with no support rows can't be nearest
    out = np.zeros(len(x), dtype=np.float32)
    k = max(1, min(k, int((sizes > 0).sum())))
    if not (sizes > 0).any():
        return out
    top = np.argpartition(-masked, k - 1, axis=1)[:, :k]
    for row, intents in enumerate(top):
        best = -1.0
        for i in intents:
            block = support[offsets[i] : offsets[i + 1]]
            if len(block):
                best = max(best, float((block @ x[row]).max()))
        out[row] = best
    return out


def group_support(
    x: np.ndarray, y: np.ndarray, n_intents: int, oos_index: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """In-scope rows of ``x`` ordered by label, and the offsets of each label's block."""
    keep = y != (oos_index if oos_index is not None else -1)
    order = np.argsort(y[keep], kind="stable")
    labels = y[keep][order]
    offsets = np.searchsorted(labels, np.arange(n_intents + 1)).astype(np.int64)
    return np.ascontiguousarray(x[keep][order], dtype=np.float32), offsets


def in_scope_score(probs: np.ndarray, oos_index: int | None, knn: np.ndarray | None) -> np.ndarray:
    """The score thresholded for out of scope: mean of best in-scope probability and kNN cosine."""
    masked = probs.copy()
    if oos_index is not None:
        masked[:, oos_index] = -1.0
    top = masked.max(axis=1)
    return top if knn is None else (top + knn) / 2.0


class IntentClassifier:
    """Intent model: ``predict(texts)`` -> per text a ranking of (intent, confidence)."""

    def __init__(
        self,
        encoder: Any,
        intents: list[str],
        coef: np.ndarray,
        intercept: np.ndarray,
        threshold: float,
        oos_label: str = "oos",
        manifest: dict[str, Any] | None = None,
        support: np.ndarray | None = None,
        support_offsets: np.ndarray | None = None,
        lexical: LexicalHead | None = None,
    ) -> None:
        self.encoder = encoder
        self.lexical = lexical  # None: a format-2/3 model, the embedding head alone
        # In-scope training embeddings for the kNN part of the oos score (None: a
        # format-1 model, probability only), grouped by intent with
        # ``support_offsets`` (None: a format-2 model, whose kNN looks at all rows).
        self.support = None if support is None else np.ascontiguousarray(support, dtype=np.float32)
        self.support_offsets = None if support_offsets is None else np.asarray(support_offsets)
        self.intents = list(intents)
        self.coef = np.asarray(coef, dtype=np.float32)
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.threshold = float(threshold)
        self.oos_label = oos_label
        self.manifest = manifest or {}
        self._oos_index = self.intents.index(oos_label) if oos_label in self.intents else None
        # Models for messages in a language the store's model was not trained on, by
        # language code (``LanguageIntentModel``; filled by ``load``).
        self.languages: dict[str, LanguageIntentModel] = {}

    # ---------------------------------------------------------------- prediction

    def rank_embeddings(self, x: np.ndarray, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
        """Rankings of ``texts``, already embedded as ``x``."""
        probs = softmax_head(x, self.coef, self.intercept)
        if self.lexical is not None:
            probs = (probs + self.lexical.probs(texts)) / 2
        if self.support is None:
            knn = None
        elif self.support_offsets is None:
            knn = knn_similarity(x, self.support)
        else:
            knn = knn_top_intents(x, probs, self.support, self.support_offsets, self._oos_index)
        scores = in_scope_score(probs, self._oos_index, knn)
        return [self._rank(p, float(s)) for p, s in zip(probs, scores, strict=True)]

    def predict(self, texts: list[str]) -> list[list[tuple[str, float]]]:
        """Per text, up to 10 (intent, confidence) pairs, best first.

        When the text is out of scope (the ``oos`` class wins, or the best in-scope
        probability is under the threshold) the ranking starts with ``("oos", p)``,
        ``p`` being the larger of the oos probability and 1 - best in-scope probability.
        """
        if not texts:
            return []
        x = np.asarray(self.encoder.encode(list(texts)), dtype=np.float32)
        return self.rank_embeddings(x, texts)

    def _rank(self, p: np.ndarray, score: float) -> list[tuple[str, float]]:
        order = np.argsort(-p, kind="stable")
        in_scope = [i for i in order if i != self._oos_index]
        p_oos = float(p[self._oos_index]) if self._oos_index is not None else 0.0
        top = float(p[in_scope[0]]) if in_scope else 0.0
        rejected = p_oos >= top or score < self.threshold
        ranking = [(self.intents[i], float(p[i])) for i in in_scope]
        if rejected:
            confidence = min(1.0, max(p_oos, 1.0 - score, 0.0))
            ranking.insert(0, (self.oos_label, confidence))
        elif self._oos_index is not None:
            ranking.append((self.oos_label, p_oos))
            ranking.sort(key=lambda pair: -pair[1])
        return ranking[:MAX_RANKING]

    # ---------------------------------------------------------------- persistence

    def save(self, dir: str | Path) -> None:
        """Write ``intent_model.json`` and ``head.npz`` into ``dir`` (created if needed)."""
        out = Path(dir)
        out.mkdir(parents=True, exist_ok=True)
        np.savez(
            out / HEAD_FILE,
            coef=self.coef,
            intercept=self.intercept,
            intents=np.array(self.intents, dtype=str),
            **({} if self.support is None else {"support": self.support.astype(np.float16)}),
            **(
                {}
                if self.support_offsets is None
                else {"support_offsets": self.support_offsets.astype(np.int64)}
            ),
            **({} if self.lexical is None else self.lexical.arrays()),
        )
        manifest = {**self.manifest, "intents": self.intents, "threshold": self.threshold}
        manifest["oos_label"] = self.oos_label
        manifest["head"] = {**manifest.get("head", {}), "file": HEAD_FILE}
        (out / MODEL_MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))

    @classmethod
    def load(cls, dir: str | Path, encoder: Any) -> IntentClassifier:
        """Load a folder written by ``save``; the encoder must produce the same dimension."""
        folder = Path(dir)
        manifest_path = folder / MODEL_MANIFEST
        if not manifest_path.exists():
            raise FileNotFoundError(
                f"{manifest_path}: no intent model here; run `shopbot build` to train one"
            )
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT:
            raise ValueError(f"{manifest_path}: not a shopbot intent model")
        if int(manifest.get("dim", encoder.dim)) != int(encoder.dim):
            raise ValueError(
                f"{manifest_path}: trained with a {manifest['dim']}-d encoder "
                f"({manifest.get('encoder')}), but the encoder given is {encoder.dim}-d; retrain"
            )
        if manifest.get("encoder") != encoder.name:
            warnings.warn(
                f"{manifest_path}: trained with encoder {manifest.get('encoder')!r}, "
                f"loading with {encoder.name!r}",
                stacklevel=2,
            )
        with np.load(folder / HEAD_FILE) as head:
            coef, intercept = head["coef"], head["intercept"]
            intents = [str(i) for i in head["intents"]]
            support = head["support"] if "support" in head.files else None
            offsets = head["support_offsets"] if "support_offsets" in head.files else None
            lexical = LexicalHead.from_arrays(head)
        model = cls(
            encoder,
            intents,
            coef,
            intercept,
            float(manifest["threshold"]),
            manifest.get("oos_label", "oos"),
            manifest,
            support,
            offsets,
            lexical,
        )
        languages = folder / LANGUAGES_DIR
        if languages.is_dir():
            for sub in sorted(p for p in languages.iterdir() if (p / LANGUAGE_MANIFEST).is_file()):
                model.languages[sub.name] = LanguageIntentModel.load(sub)
        return model


class LanguageIntentModel:
    """A small intent model for messages in one language (Chinese on an English store).

    The store's model reads the store's language with the store's encoder (MiniLM,
    English only, for an English store); a message in another language gets no
    meaning from it. This model is the lexical head alone (character n-grams, no
    encoder, ~1 ms a message), trained on the shipped examples of that language
    (knowledge_base/data/zh/) by ``knowledge_base.build``. Its probabilities are
    sharpened by ``temperature`` (chosen on a validation split at training) so that
    its confidences are on the scale the dialogue policy's thresholds expect.
    """

    def __init__(
        self,
        language: str,
        intents: Sequence[str],
        lexical: LexicalHead,
        temperature: float = 1.0,
        threshold: float = 0.3,
        oos_label: str = "oos",
    ) -> None:
        self.language = language
        self.intents = list(intents)
        self.lexical = lexical
        self.temperature = float(temperature)
        self.threshold = float(threshold)
        self.oos_label = oos_label
        self._oos_index = self.intents.index(oos_label) if oos_label in self.intents else None

    def probs(self, texts: Sequence[str]) -> np.ndarray:
        """Per text, the sharpened probability of each intent (rows sum to 1)."""
        from bot.nlu.language import simplified

        p = self.lexical.probs([simplified(t) for t in texts])
        z = np.log(np.clip(p, 1e-9, 1.0)) / self.temperature
        return softmax(z).astype(np.float32)

    def predict(self, texts: list[str]) -> list[list[tuple[str, float]]]:
        """Per text, up to 10 (intent, confidence) pairs, best first; ``oos`` first when
        the oos class wins or the best in-scope probability is under ``threshold``."""
        if not texts:
            return []
        out = []
        for p in self.probs(texts):
            order = [int(i) for i in np.argsort(-p, kind="stable") if i != self._oos_index]
            ranking = [(self.intents[i], float(p[i])) for i in order]
            top = float(p[order[0]]) if order else 0.0
            p_oos = float(p[self._oos_index]) if self._oos_index is not None else 0.0
            rejected = p_oos >= top or top < self.threshold
            ranking.insert(0 if rejected else len(ranking), (self.oos_label, p_oos))
            if rejected:
                ranking[0] = (self.oos_label, min(1.0, max(p_oos, 1.0 - top)))
            else:
                ranking.sort(key=lambda pair: -pair[1])
            out.append(ranking[:MAX_RANKING])
        return out

    def save(self, dir: str | Path, manifest: dict[str, Any] | None = None) -> None:
        """Write ``language_model.json`` and ``head.npz`` into ``dir`` (created if needed)."""
        out = Path(dir)
        out.mkdir(parents=True, exist_ok=True)
        np.savez(
            out / HEAD_FILE, intents=np.array(self.intents, dtype=str), **self.lexical.arrays()
        )
        about = {
            **(manifest or {}),
            "format": LANGUAGE_FORMAT,
            "format_version": LANGUAGE_FORMAT_VERSION,
            "language": self.language,
            "intents": self.intents,
            "temperature": self.temperature,
            "threshold": self.threshold,
            "oos_label": self.oos_label,
        }
        (out / LANGUAGE_MANIFEST).write_text(json.dumps(about, indent=2, ensure_ascii=False))

    @classmethod
    def load(cls, dir: str | Path) -> LanguageIntentModel:
        """Load a folder written by ``save``."""
        folder = Path(dir)
        path = folder / LANGUAGE_MANIFEST
        about = json.loads(path.read_text(encoding="utf-8"))
        if about.get("format") != LANGUAGE_FORMAT:
            raise ValueError(f"{path}: not a shopbot language intent model")
        with np.load(folder / HEAD_FILE) as head:
            intents = [str(i) for i in head["intents"]]
            lexical = LexicalHead.from_arrays(head)
        if lexical is None:
            raise ValueError(f"{folder / HEAD_FILE}: no lexical head in this language model")
        return cls(
            str(about["language"]),
            intents,
            lexical,
            float(about.get("temperature", 1.0)),
            float(about.get("threshold", 0.3)),
            str(about.get("oos_label", "oos")),
        )
