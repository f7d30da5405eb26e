"""Split a store's multi-turn answer cases into dev (~40 %) and held-out (~60 %).

The split is stratified by kind (the id prefix, also in the ``category`` field)
and seeded, so it depends only on the case ids:

    python tests/data/multiturn/split.py --store demo_store ALL.jsonl   # write the two files
    python tests/data/multiturn/split.py --check                        # committed files == re-split

Within each kind the ids are sorted, shuffled with ``random.Random(f"{SEED}:{store}:{kind}")``
and the first ``round(0.4 * n)`` go to dev.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

SEED = 15
DEV_FRACTION = 0.4
HERE = Path(__file__).resolve().parent
STORES = ("demo_store", "taubench_retail")


def kind_of(case: dict) -> str:
    return case.get("category") or case["id"].split("-")[0]


def split(cases: list[dict], store: str) -> tuple[list[dict], list[dict]]:
    by_kind: dict[str, list[dict]] = {}
    for case in cases:
        by_kind.setdefault(kind_of(case), []).append(case)
    dev, heldout = [], []
    for kind in sorted(by_kind):
        group = sorted(by_kind[kind], key=lambda c: c["id"])
        random.Random(f"{SEED}:{store}:{kind}").shuffle(group)
        n_dev = round(DEV_FRACTION * len(group))
        dev += group[:n_dev]
        heldout += group[n_dev:]
    return sorted(dev, key=lambda c: c["id"]), sorted(heldout, key=lambda c: c["id"])


def read(path: Path) -> list[dict]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def write(path: Path, cases: list[dict]) -> None:
    path.write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8"
    )


def committed(store: str) -> tuple[list[dict], list[dict]]:
    return read(HERE / f"{store}.dev.jsonl"), read(HERE / f"{store}.heldout.jsonl")


def check() -> list[str]:
    """The stores whose committed files differ from a re-split of their union."""
    bad = []
    for store in STORES:
        dev, heldout = committed(store)
        new_dev, new_heldout = split(dev + heldout, store)
        if [c["id"] for c in new_dev] != [c["id"] for c in dev] or [
            c["id"] for c in new_heldout
        ] != [c["id"] for c in heldout]:
            bad.append(store)
    return bad


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("cases", nargs="?", help="all of a store's cases (JSONL)")
    parser.add_argument("--store", choices=STORES)
    parser.add_argument("--check", action="store_true", help="verify the committed split")
    args = parser.parse_args()
    if args.check:
        bad = check()
        print("split OK" if not bad else f"split differs for: {', '.join(bad)}")
        return 1 if bad else 0
    if not (args.cases and args.store):
        parser.error("give the cases file and --store, or --check")
    dev, heldout = split(read(Path(args.cases)), args.store)
    write(HERE / f"{args.store}.dev.jsonl", dev)
    write(HERE / f"{args.store}.heldout.jsonl", heldout)
    print(f"{args.store}: {len(dev)} dev, {len(heldout)} held-out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
