"""Rolling-origin backtest of the forecasters on CDNOW (daily and weekly units and revenue).

    python scripts/bench_forecast.py [--cdnow PATH] [--json FILE]

Prints a Markdown table (MASE and sMAPE per model and series, the chosen
model) for docs/benchmarks.md. Daily: h=14, m=7, 5 origins. Weekly: h=4,
m=1 (no usable yearly season in 78 weeks), 6 origins.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.insights.forecast import backtest, load_cdnow  # noqa: E402

SETUPS = {"daily": {"h": 14, "m": 7, "origins": 5}, "weekly": {"h": 4, "m": 1, "origins": 6}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cdnow", type=Path, default=ROOT.parent / "shared/datasets/cdnow/CDNOW_master.txt"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # the machine is shared; the GRU is tiny anyway
    series = load_cdnow(args.cdnow)
    results = {}
    rows = []
    for name, y in series.items():
        setup = SETUPS[name.split("_")[0]]
        started = time.perf_counter()
        bt = backtest(y, **setup)
        seconds = time.perf_counter() - started
        chosen = bt.winner()
        results[name] = {
            "setup": setup,
            "scores": bt.scores,
            "chosen": chosen,
            "seconds": round(seconds, 1),
        }
        for model, s in bt.scores.items():
            mark = " **chosen**" if model == chosen else ""
            rows.append(f"| {name} | {model}{mark} | {s['mase']:.3f} | {s['smape']:.1f} |")
        print(f"{name}: chosen {chosen} ({seconds:.1f} s)", file=sys.stderr, flush=True)
    print("| series | model | MASE | sMAPE % |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
