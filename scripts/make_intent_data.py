"""Regenerate the intent training data shipped in ``knowledge_base/data/``.

The installed product must not read ``../shared/datasets`` at run time, so the
parts of Bitext and CLINC150 it trains on are copied into the package by this
script (run from the project root)::

    python scripts/make_intent_data.py [--datasets ../shared/datasets]

Writes
- ``bitext_intents.csv``: every Bitext customer-service utterance (``text,intent``).
- ``smalltalk.csv``: CLINC150 ``greeting``/``goodbye``/``thank_you``/``yes``/``no``
  (train + val) renamed to the intents the dialogue policy uses
  (``greet``, ``goodbye``, ``thanks``, ``affirm``, ``deny``).
- ``oos.csv``: out-of-scope examples, intent ``oos``: CLINC ``oos_train`` +
  ``oos_val`` plus a fixed sample of in-scope CLINC utterances from domains a
  shop's assistant does not serve (travel, dining, cars, small talk, ...).
  Banking, card, payment, order and shopping-list intents are left out on
  purpose: they are close to what a shop *does* handle, and teaching the model
  that "cancel my order"-like text is out of scope would hurt the real intents.

CLINC ``test`` and ``oos_test`` are never used: benchmarks hold them out.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "knowledge_base" / "data"
DEFAULT_DATASETS = ROOT.parent / "shared" / "datasets"

SEED = 0
OOS_PER_INTENT = 20  # in-scope CLINC utterances relabelled `oos`, per CLINC intent

SMALLTALK = {
    "greeting": "greet",
    "goodbye": "goodbye",
    "thank_you": "thanks",
    "yes": "affirm",
    "no": "deny",
}

# CLINC intents that become `oos`. An allow-list rather than a block-list, so a
# reader sees exactly what the model is taught to refuse.
OOS_SOURCE_INTENTS = sorted(
    {
        # kitchen & dining (cancel_reservation left out: too close to cancel_order)
        "recipe", "restaurant_reviews", "calories", "nutrition_info",
        "restaurant_suggestion", "ingredients_list", "ingredient_substitution",
        "cook_time", "food_last", "meal_suggestion", "restaurant_reservation",
        "confirm_reservation", "how_busy", "accept_reservations",
        # home (order, order_status, shopping_list* left out: shopping)
        "next_song", "play_music", "update_playlist", "todo_list", "todo_list_update",
        "calendar", "calendar_update", "what_song", "reminder", "reminder_update",
        "smart_home",
        # auto & commute
        "traffic", "directions", "gas", "gas_type", "distance", "current_location",
        "mpg", "oil_change_when", "oil_change_how", "jump_start", "uber",
        "schedule_maintenance", "last_maintenance", "tire_pressure", "tire_change",
        # travel (exchange_rate and lost_luggage left out: currency / lost parcels)
        "book_flight", "book_hotel", "car_rental", "travel_suggestion", "travel_alert",
        "travel_notification", "carry_on", "timezone", "vaccines", "translate",
        "flight_status", "international_visa", "plug_type",
        # utility
        "time", "alarm", "share_location", "find_phone", "weather", "text", "spelling",
        "make_call", "timer", "date", "calculator", "measurement_conversion",
        "flip_coin", "roll_dice", "definition",
        # work (pay, tax and deposit intents left out: close to payments)
        "pto_request", "pto_balance", "pto_request_status", "pto_used", "next_holiday",
        "schedule_meeting", "meeting_schedule", "w2", "rollover_401k", "insurance",
        "insurance_change",
        # small talk about the assistant itself
        "tell_joke", "where_are_you_from", "how_old_are_you", "what_is_your_name",
        "who_made_you", "what_are_your_hobbies", "do_you_have_pets", "meaning_of_life",
        "fun_fact",
        # assistant settings
        "change_ai_name", "whisper_mode", "change_accent", "change_volume",
        "change_speed", "sync_device",
    }
)  # fmt: skip


def _write_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "intent"])
        writer.writerows(rows)


def _dedupe(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for text, intent in rows:
        key = (text.strip(), intent)
        if key[0] and key not in seen:
            seen.add(key)
            out.append(key)
    return out


def bitext_rows(datasets: Path) -> list[tuple[str, str]]:
    """All Bitext utterances as (text, intent); the file starts with a UTF-8 BOM."""
    path = datasets / "bitext" / "bitext_cs_21534.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = [(r["utterance"], r["intent"]) for r in csv.DictReader(fh)]
    return _dedupe(rows)


def clinc_rows(datasets: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(small-talk rows, oos rows) from CLINC150 train/val/oos_train/oos_val only."""
    data = json.loads((datasets / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    smalltalk = [
        (text, SMALLTALK[intent])
        for split in ("train", "val")
        for text, intent in data[split]
        if intent in SMALLTALK
    ]
    oos = [(text, "oos") for split in ("oos_train", "oos_val") for text, _ in data[split]]
    by_intent: dict[str, list[str]] = {}
    for text, intent in data["train"]:
        by_intent.setdefault(intent, []).append(text)
    missing = [i for i in OOS_SOURCE_INTENTS if i not in by_intent]
    if missing:
        raise ValueError(f"CLINC150 has no intents named {missing}")
    rng = random.Random(SEED)
    for intent in OOS_SOURCE_INTENTS:
        oos.extend((t, "oos") for t in rng.sample(by_intent[intent], OOS_PER_INTENT))
    return _dedupe(smalltalk), _dedupe(oos)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    bitext = bitext_rows(args.datasets)
    smalltalk, oos = clinc_rows(args.datasets)
    _write_csv(args.out / "bitext_intents.csv", bitext)
    _write_csv(args.out / "smalltalk.csv", smalltalk)
    _write_csv(args.out / "oos.csv", oos)
    # CDLA-Sharing-1.0 asks that the licence text travel with the data.
    shutil.copyfile(
        args.datasets / "bitext" / "LICENSE.txt", args.out / "LICENSE-bitext-CDLA-Sharing-1.0.txt"
    )
    print(
        f"wrote {len(bitext)} Bitext, {len(smalltalk)} small-talk and {len(oos)} oos rows "
        f"({len(OOS_SOURCE_INTENTS)} CLINC intents x {OOS_PER_INTENT} + oos_train/oos_val) "
        f"to {args.out}"
    )


if __name__ == "__main__":
    main()
