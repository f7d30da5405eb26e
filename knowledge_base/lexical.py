"""The knowledge index's lexical side: BM25 over analysed words, with typo correction.

``Analyzer`` turns a text into what BM25 indexes: lowercased, accents and
punctuation stripped, stopwords dropped, stemmed; for a Chinese store, the words
and single characters of ``knowledge_base.chinese``. ``build_bm25`` writes an
index's ``bm25/`` folder (a bm25s index in its own save format, and
``lexicon.json``: the corpus words, for ``Speller``'s typo fixes);
``LexicalIndex`` reads it back and scores a query against every document as a
fraction of the query's highest attainable BM25.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
from rapidfuzz.distance import OSA

from knowledge_base import chinese
from knowledge_base.store import Document

# BM25 parameters (bm25s defaults, Lucene variant).
BM25_K1 = 1.5
BM25_B = 0.75

# Lucene's English list plus the words customers wrap questions in ("how do I",
# "can you", "my"): they are in most FAQ questions, so they only add noise.
STOPWORDS = frozenset(
    """a an and are as at be but by for if in into is it no not of on or such that the their
    then there these they this to was will with i me my mine myself you your yours we our us
    he she him her his its them what which who whom how when where why do does did doing done
    can could would should shall may might must am been being have has had having please
    hi hello hey thanks thank so just also any some about""".split()
)
_TOKEN = re.compile(r"\w+")

try:  # PyStemmer: "returns", "returned", "returning" -> "return"
    import Stemmer as _pystemmer

    STEMMER_NAME: str | None = "english"
except ImportError:  # pragma: no cover - PyStemmer is a dependency
    _pystemmer = None
    STEMMER_NAME = None


class Analyzer:
    """Lowercase, strip accents and punctuation, drop stopwords, stem.

    ``language`` is ``"en"`` or ``"zh"`` (``knowledge_base.index.lexical_language``
    of a store's language). ``"zh"``: the Chinese words and characters of
    ``knowledge_base.chinese.terms`` (without its stopwords), ASCII words among
    them as in English.
    """

    def __init__(self, stemmer: str | None, language: str = "en") -> None:
        if stemmer and _pystemmer is None:
            raise RuntimeError(
                "This index was built with a stemmer but PyStemmer is not installed: "
                "pip install PyStemmer (or rebuild the index)"
            )
        self._stemmer = _pystemmer.Stemmer(stemmer) if stemmer else None
        self.stemmer_name = stemmer
        self.language = language

    def words(self, text: str) -> list[str]:
        """Surface words: normalised, stopwords removed, not stemmed."""
        if self.language == "zh":
            return [
                w
                for w in chinese.terms(text)
                if w not in (chinese.STOPWORDS if chinese.has_chinese(w) else STOPWORDS)
            ]
        text = unicodedata.normalize("NFKD", text.lower())
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        return [w for w in _TOKEN.findall(text.replace("_", " ")) if w not in STOPWORDS]

    def stem(self, words: list[str]) -> list[str]:
        """Stemmed forms of ``words`` (Chinese words are their own stems)."""
        if not self._stemmer:
            return list(words)
        if self.language == "zh":
            return [
                w if chinese.has_chinese(w) else s
                for w, s in zip(words, self._stemmer.stemWords(words), strict=True)
            ]
        return self._stemmer.stemWords(words)

    def correctable(self, word: str) -> bool:
        """Whether the speller may fix ``word``: not Chinese words (edit distance means
        nothing there; a homophone typo is for the dense side)."""
        return self.language != "zh" or not chinese.has_chinese(word)

    def tokens(self, text: str) -> list[str]:
        """What BM25 indexes for ``text``."""
        return self.stem(self.words(text))


class Speller:
    """Maps an unknown query word to the closest corpus word (typos: "retrun" -> "return").

    Symmetric-delete lookup (as in SymSpell): a word and its one-letter
    deletions are keys; two words sharing a key are at most two edits apart,
    then confirmed with a real edit distance. Built lazily on the first miss.
    """

    def __init__(self, counts: dict[str, int], known_words: frozenset[str] = frozenset()) -> None:
        self.counts = counts
        # Real words the corpus lacks ("back") must not be "fixed" into corpus
        # words ("black"); a dictionary of known words tells the two apart.
        self.known_words = known_words
        self._deletes: dict[str, list[str]] | None = None
        self._lock = threading.Lock()

    @staticmethod
    def _keys(word: str) -> set[str]:
        return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}

    def _table(self) -> dict[str, list[str]]:
        with self._lock:
            if self._deletes is None:
                table: dict[str, list[str]] = {}
                for word in self.counts:
                    if len(word) >= 3 and not word.isdigit():
                        for key in self._keys(word):
                            table.setdefault(key, []).append(word)
                self._deletes = table
            return self._deletes

    def correct(self, word: str) -> str | None:
        """The best corpus word within edit distance 1 (2 for long words), or None."""
        if len(word) < 4 or word in self.known_words or any(ch.isdigit() for ch in word):
            return None
        table = self._table()
        candidates = {c for key in self._keys(word) for c in table.get(key, ())}
        limit = 1 if len(word) < 8 else 2
        # Optimal string alignment: Levenshtein plus adjacent transpositions ("retrun").
        scored = [
            (d, -self.counts[c], c)
            for c in candidates
            if (d := OSA.distance(word, c, score_cutoff=limit)) <= limit
        ]
        return min(scored)[2] if scored else None


def known_words(encoder: Any) -> frozenset[str]:
    """Whole English words of the encoder's WordPiece vocabulary (~20k words).

    A word the tokenizer knows whole is a real word, not a typo. Encoders
    without such a vocabulary give an empty set: every unknown word is then a
    candidate for correction.
    """
    vocab = getattr(getattr(getattr(encoder, "model", None), "tokenizer", None), "vocab", None)
    if not isinstance(vocab, dict):
        return frozenset()
    return frozenset(w for w in vocab if w.isalpha() and w.isascii() and len(w) >= 3)


def build_bm25(
    documents: Sequence[Document], folder: Path, language: str, progress: bool
) -> dict[str, Any]:
    """Index ``documents`` with BM25 into ``folder``; the manifest's ``bm25`` entry.

    ``language``: the analyzer (``knowledge_base.index.lexical_language``).
    """
    analyzer = Analyzer(STEMMER_NAME, language)
    # The title counts twice (it is also in the text): "laptop" should find
    # the Laptop before the backpack with a laptop sleeve.
    words = [analyzer.words(f"{d.title}\n{d.text}") for d in documents]
    bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B)
    bm25.index([analyzer.stem(w) for w in words], show_progress=progress)
    bm25.save(str(folder), show_progress=False)
    lexicon = Counter(w for ws in words for w in ws)
    info: dict[str, Any] = {"k1": BM25_K1, "b": BM25_B, "stemmer": analyzer.stemmer_name}
    if analyzer.language != "en":  # absent = English, as in every index before
        info |= {"language": analyzer.language, "segmenter": chinese.segmenter_version()}
    (folder / "lexicon.json").write_text(
        json.dumps(dict(lexicon.most_common()), ensure_ascii=False), encoding="utf-8"
    )
    return info


def read_bm25(folder: Path) -> tuple[bm25s.BM25, dict[str, int]]:
    """The BM25 index and the lexicon (corpus word counts) that ``build_bm25`` wrote."""
    bm25 = bm25s.BM25.load(str(folder), show_progress=False, verbosity=0)
    lexicon_path = folder / "lexicon.json"
    lexicon = json.loads(lexicon_path.read_text(encoding="utf-8")) if lexicon_path.is_file() else {}
    return bm25, lexicon


class LexicalIndex:
    """BM25 scores of queries, their words analysed as the documents' were, typos fixed."""

    def __init__(
        self,
        bm25: bm25s.BM25,
        lexicon: dict[str, int],
        stemmer: str | None,
        language: str,
        known_words: frozenset[str] = frozenset(),
    ) -> None:
        self._bm25 = bm25
        self._analyzer = Analyzer(stemmer, language)
        self._speller = Speller(lexicon, known_words)
        # Lucene BM25 IDF per vocabulary token (bm25s stores only the products
        # idf * tf-factor); a token's document frequency is its CSC column length.
        self._n_docs = int(bm25.scores["num_docs"])
        doc_freq = np.diff(np.asarray(bm25.scores["indptr"])).astype(np.float64)
        self._idf = np.log1p((self._n_docs - doc_freq + 0.5) / (doc_freq + 0.5))
        self._max_idf = float(np.log1p((self._n_docs - 1 + 0.5) / 1.5))

    def analyse_query(self, query: str) -> tuple[list[str], int]:
        """(tokens in the BM25 vocabulary, number of query words with no such token).

        Words unknown to the corpus are spell-corrected first.
        """
        vocab = self._bm25.vocab_dict
        tokens: list[str] = []
        unmatched = 0
        words = self._analyzer.words(query)
        for word, stem in zip(words, self._analyzer.stem(words), strict=True):
            if stem not in vocab and self._analyzer.correctable(word):
                fixed = self._speller.correct(word)
                stem = self._analyzer.stem([fixed])[0] if fixed is not None else None
            # bm25s adds an empty "" token to the vocabulary; it has no postings.
            if stem and stem in vocab:
                tokens.append(stem)
            else:
                unmatched += 1
        return tokens, unmatched

    def scores(self, query: str) -> np.ndarray:
        """BM25 of every document as a fraction of the query's highest attainable BM25.

        A term contributes at most its IDF (its term-frequency factor tends to 1),
        so the sum of the query terms' IDFs bounds the score. Query words the
        corpus lacks count with the largest IDF: a match on "deliver" alone
        must not look like a full match for "do you deliver to canada". Unlike
        dividing by the best hit's score, this does not depend on the corpus
        size and says how much of the query a document covers.
        """
        tokens, unmatched = self.analyse_query(query)
        if not tokens:
            return np.zeros(self._n_docs, dtype=np.float32)
        vocab = self._bm25.vocab_dict
        bound = sum(self._idf[vocab[t]] for t in tokens) + unmatched * self._max_idf
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        return np.clip(scores / bound, 0.0, 1.0) if bound > 0 else np.zeros_like(scores)
