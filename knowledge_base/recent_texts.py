"""The vectors of the texts an encoder embedded last, one at a time (an LRU).

Both sentence encoders (``knowledge_base.embeddings.Encoder`` and
``knowledge_base.multilingual.MultilingualEncoder``) keep one.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

RECENT_TEXTS = 512  # single texts remembered: the turns in flight, many times over


class RecentTexts:
    """The vectors of the last ``RECENT_TEXTS`` single texts embedded (an LRU).

    One chat turn embeds its text for the intent model and again for retrieval
    (and entity matching): the second time is free. Callers hold their lock.
    """

    def __init__(self) -> None:
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    def get(self, text: str) -> np.ndarray | None:
        """A copy of the vectors remembered for ``text`` (now the most recent), or None."""
        vector = self._vectors.get(text)
        if vector is None:
            return None
        self._vectors.move_to_end(text)
        return vector.copy()

    def put(self, text: str, vectors: np.ndarray) -> None:
        """Remember ``vectors`` for ``text``, forgetting the least recent beyond the limit."""
        self._vectors[text] = vectors.copy()
        if len(self._vectors) > RECENT_TEXTS:
            self._vectors.popitem(last=False)

    def clear(self) -> None:
        """Forget every text (benchmarks: each call then encodes, as for a new turn)."""
        self._vectors.clear()
