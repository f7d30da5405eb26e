"""Customer segments: k-means on standardized profile features, with readable personas.

Features per profile: activity (messages, conversations), what they ask
(shares of order / product / return / handoff intents), mood (mean
sentiment), friction (failed answers, handoffs), shopping (purchase intent,
price objections, demand gaps, price asked) and the share of each catalog
category among their interests. k is chosen by silhouette within a range;
the seed is fixed so the same profiles always give the same segments.
A persona names the features where the segment's mean is furthest from the
whole population's (in standard deviations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.insights.profiles import sentiment_summary

INTENT_GROUPS = {
    "order": {"track_order", "order_status", "cancel_order", "change_order", "delivery_period"},
    "product": {"product_info"},
    "returns": {"return_order", "get_refund", "exchange_order", "check_refund_policy"},
    "handoff": {"contact_human_agent", "complaint"},
}


def features(profiles: list[dict[str, Any]]) -> tuple[list[str], np.ndarray]:
    """Feature names and a (customers x features) matrix."""
    categories = sorted({c for p in profiles for c in p["categories"]})
    names = [
        "messages",
        "conversations",
        *(f"{g} intents" for g in INTENT_GROUPS),
        "sentiment",
        "failed answers",
        "handoffs",
        "purchase intent",
        "price objections",
        "demand gaps",
        "price asked",
        *(f"{c} interest" for c in categories),
    ]
    rows = []
    for p in profiles:
        n = max(p["messages"], 1)
        groups = [
            sum(v for k, v in p["intents"].items() if k in members) / n
            for members in INTENT_GROUPS.values()
        ]
        cat_total = sum(p["categories"].values()) or 1
        price = p["price_max"] if p["price_max"] is not None else 0.0
        rows.append(
            [
                np.log1p(p["messages"]),
                np.log1p(p["conversations"]),
                *groups,
                sentiment_summary(p)["mean"],
                p["failed_answers"] / n,
                p["handoffs"] / n,
                p["purchase_intent"] / n,
                p["price_objections"] / n,
                p["demand_gaps"] / n,
                np.log1p(price),
                *(p["categories"].get(c, 0) / cat_total for c in categories),
            ]
        )
    return names, np.asarray(rows, dtype=float).reshape(len(profiles), len(names))


@dataclass
class Segmentation:
    """The chosen clustering and what describes each segment."""

    senders: list[str]
    labels: np.ndarray
    k: int
    silhouettes: dict[int, float]
    personas: list[dict[str, Any]] = field(default_factory=list)
    coords: np.ndarray | None = None  # 2-D PCA of the standardized features, for the chart


def segment(
    profiles: dict[str, dict[str, Any]],
    k_min: int = 2,
    k_max: int = 8,
    seed: int = 0,
    min_messages: int = 1,
) -> Segmentation:
    """K-means segments of the customers with at least ``min_messages`` messages."""
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    chosen = [p for _, p in sorted(profiles.items()) if p["messages"] >= min_messages]
    if len(chosen) < k_min + 1:
        raise ValueError(
            f"need at least {k_min + 1} customer profiles to segment, have {len(chosen)}"
        )
    names, x = features(chosen)
    z = StandardScaler().fit_transform(x)
    z = np.nan_to_num(z)
    best: tuple[float, int, np.ndarray] | None = None
    silhouettes: dict[int, float] = {}
    for k in range(k_min, min(k_max, len(chosen) - 1) + 1):
        labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(z)
        if len(set(labels.tolist())) < 2:
            continue
        score = float(silhouette_score(z, labels, random_state=seed))
        silhouettes[k] = round(score, 4)
        if best is None or score > best[0] + 1e-9:
            best = (score, k, labels)
    if best is None:
        raise ValueError("the profiles are all alike: no segmentation with two or more groups")
    _, k, labels = best
    labels = _canonical(labels)
    personas = []
    for c in range(k):
        members = labels == c
        centre = z[members].mean(0)
        order = np.argsort(-np.abs(centre))[:3]
        traits = [
            {"feature": names[i], "z": round(float(centre[i]), 2)}
            for i in order
            if abs(centre[i]) >= 0.3
        ]
        words = [
            f"{'high' if t['z'] > 0 else 'low'} {t['feature']} ({t['z']:+.1f} sd)" for t in traits
        ]
        personas.append(
            {
                "segment": c,
                "size": int(members.sum()),
                "share": round(float(members.mean()), 3),
                "traits": traits,
                "persona": ", ".join(words) or "average on every feature",
            }
        )
    coords = PCA(n_components=2, random_state=seed).fit_transform(z) if z.shape[1] >= 2 else None
    return Segmentation([p["sender"] for p in chosen], labels, k, silhouettes, personas, coords)


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters by size (largest = 0) so labels are stable across runs."""
    sizes = sorted(set(labels.tolist()), key=lambda c: (-(labels == c).sum(), c))
    mapping = {old: new for new, old in enumerate(sizes)}
    return np.array([mapping[c] for c in labels.tolist()])


def plot_segments(seg: Segmentation, out: str | Path | Any, fmt: str | None = None) -> None:
    """Segment sizes and a 2-D PCA scatter, as PNG/SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    sizes = [p["size"] for p in seg.personas]
    ax1.barh([f"segment {p['segment']}" for p in seg.personas], sizes, color="#1f77b4")
    ax1.invert_yaxis()
    ax1.set_xlabel("customers")
    ax1.set_title(f"{seg.k} segments (silhouette {seg.silhouettes[seg.k]:.2f})")
    if seg.coords is not None:
        for c in range(seg.k):
            pts = seg.coords[seg.labels == c]
            ax2.scatter(pts[:, 0], pts[:, 1], s=8, label=f"segment {c}")
        ax2.legend(fontsize=7)
        ax2.set_title("customers (PCA of standardized features)")
    fig.tight_layout()
    fig.savefig(out, format=fmt)
    plt.close(fig)
