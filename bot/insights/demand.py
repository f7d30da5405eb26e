"""Demand signals by date range, daily series for forecasting, and clustered demand gaps.

Counts are ``GROUP BY`` queries over ``insight_signals`` (one row per turn,
kind and product/category), so they always reflect the log as it is now,
including ``forget`` and retention pruning.

Demand gaps are clustered by the sentence embeddings of the asked-for thing
(average-linkage agglomerative clustering on cosine distance), so that
"waterproof hiking boots" asked forty ways is one gap with forty requests.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import numpy as np

from bot.storage.insights import InsightsStore

# Two gap queries closer than this cosine similarity are the same request.
GAP_CLUSTER_SIMILARITY = 0.6


def demand(
    store: InsightsStore,
    start: str | None = None,
    end: str | None = None,
    key_type: str = "product",
    kind: str | None = None,
) -> list[dict[str, Any]]:
    """Totals per key and kind in ``[start, end]``, most asked first."""
    rows = store.signal_counts(start, end, kind=kind, key_type=key_type, by_day=False)
    return sorted(rows, key=lambda r: (-r["count"], r["kind"], r["key"]))


def daily_series(
    store: InsightsStore,
    kind: str = "mention",
    key_type: str = "category",
    key: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> tuple[list[str], np.ndarray]:
    """Day-by-day counts (zeros filled) of one signal, for one key or all keys."""
    rows = store.signal_counts(start, end, kind=kind, key_type=key_type, by_day=True)
    counts: Counter[str] = Counter()
    for r in rows:
        if key is None or r["key"] == key:
            counts[r["day"]] += r["count"]
    if not counts and not (start and end):
        return [], np.zeros(0)
    first = dt.date.fromisoformat(start or min(counts))
    last = dt.date.fromisoformat(end or max(counts))
    days = [(first + dt.timedelta(d)).isoformat() for d in range((last - first).days + 1)]
    return days, np.array([float(counts.get(d, 0)) for d in days])


def demand_gaps(
    store: InsightsStore,
    start: str | None = None,
    end: str | None = None,
    similarity: float = GAP_CLUSTER_SIMILARITY,
) -> list[dict[str, Any]]:
    """Clusters of product requests the catalog cannot serve, largest first.

    Each: ``label`` (the request nearest the cluster centre), ``requests``
    (turns), ``customers`` (distinct senders), ``examples`` (up to 5 phrasings),
    ``first_day``/``last_day``.
    """
    events = [e for e in store.events(start, end, gaps_only=True) if e["gap_vec"] is not None]
    if not events:
        return []
    vectors = np.stack([e["gap_vec"] for e in events])
    if len(events) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        from sklearn.cluster import AgglomerativeClustering

        labels = AgglomerativeClustering(
            n_clusters=None,
            metric="cosine",
            linkage="average",
            distance_threshold=1.0 - similarity,
        ).fit_predict(vectors)
    out = []
    for label in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == label)
        centre = vectors[idx].mean(0)
        nearest = idx[int(np.argmax(vectors[idx] @ centre))]
        phrasings = Counter(events[i]["gap"] for i in idx)
        days = sorted(events[i]["day"] for i in idx)
        out.append(
            {
                "label": events[nearest]["gap"],
                "requests": int(len(idx)),
                "customers": len({events[i]["sender"] for i in idx}),
                "examples": [p for p, _ in phrasings.most_common(5)],
                "first_day": days[0],
                "last_day": days[-1],
            }
        )
    return sorted(out, key=lambda g: (-g["requests"], g["label"]))
