"""``shopbot eval intents`` and ``shopbot eval retrieval`` end to end, on small real slices.

The commands run through ``bot.cli.main`` exactly as a merchant types them: real
CSV files, the real MiniLM encoder, the real demo store index. The checks are
about the reports (keys, files, counts, known answers), not benchmark numbers.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from training.intent_data import BUILTIN_DATA_DIR, read_intents_csv

INTENTS = ["track_order", "get_refund", "contact_human_agent", "delivery_options", "payment_issue"]
PER_INTENT = 20
METRIC_KEYS = (
    "accuracy",
    "macro_f1",
    "in_scope_accuracy",
    "oos_recall",
    "oos_precision",
    "train_seconds",
    "predict_ms_p50",
)


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the embedding cache of these tests out of the user's ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("SHOPBOT_CACHE_DIR", str(tmp_path_factory.mktemp("eval-cache")))
    yield
    mp.undo()


def _write(path: Path, header: list[str], rows: list[tuple[str, ...]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def slices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | list]:
    """5 Bitext intents x 20 training rows + 30 oos rows; a disjoint test slice."""
    rng = random.Random(0)
    bitext = read_intents_csv(BUILTIN_DATA_DIR / "bitext_intents.csv")
    oos = rng.sample(read_intents_csv(BUILTIN_DATA_DIR / "oos.csv"), 40)
    train, test = [], []
    for intent in INTENTS:
        rows = rng.sample([r for r in bitext if r[1] == intent], PER_INTENT + 6)
        train += rows[:PER_INTENT]
        test += rows[PER_INTENT:]
    train += oos[:30]
    test += oos[30:]
    d = tmp_path_factory.mktemp("eval-data")
    return {
        "train": _write(d / "train.csv", ["text", "intent"], train),
        "test": _write(d / "test.csv", ["text", "intent"], test),
        "train_rows": train,
        "test_rows": test,
        "dir": d,
    }


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_intents_writes_json_and_reports(
    slices: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_dir, json_path = tmp_path / "report", tmp_path / "intents.json"
    argv = ["eval", "intents", "--train", str(slices["train"]), "--test", str(slices["test"])]
    code, out, _ = _run(argv + ["--json", str(json_path), "--report-dir", str(report_dir)], capsys)
    assert code == 0
    result = json.loads(json_path.read_text())
    for key in METRIC_KEYS:
        assert key in result and result[key] is not None, key
        assert key in out  # also printed
    assert result["n_train"] == len(slices["train_rows"])
    assert result["n_test"] == len(slices["test_rows"])
    report = json.loads((report_dir / "intent_report.json").read_text())
    # Per-intent support is exactly the number of test rows of that intent.
    for intent in INTENTS:
        assert report["per_intent"][intent]["support"] == 6
    assert report["per_intent"]["oos"]["support"] == 10
    errors = json.loads((report_dir / "errors.json").read_text())
    wrong = round((1 - result["accuracy"]) * len(slices["test_rows"]))
    assert len(errors) == wrong  # one entry per misclassified row
    png = (report_dir / "confusion_matrix.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


def test_eval_intents_on_training_rows_is_exact(
    slices: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A known answer: scoring in-scope rows the model was trained on gives 1.0."""
    seen = [r for r in slices["train_rows"] if r[1] != "oos"][::4]
    test = _write(tmp_path / "seen.csv", ["text", "intent"], seen)
    json_path = tmp_path / "seen.json"
    argv = ["eval", "intents", "--train", str(slices["train"]), "--test", str(test)]
    code, _, _ = _run(argv + ["--json", str(json_path)], capsys)
    assert code == 0
    result = json.loads(json_path.read_text())
    assert result["n_test"] == len(seen)
    assert result["in_scope_accuracy"] >= 0.95
    assert result["oos_recall"] is None  # no oos rows in this test set


def test_eval_intents_warns_about_a_label_never_trained(
    slices: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = slices["test_rows"][:10] + [("can I pay in seashells", "pay_in_shells")]
    test = _write(tmp_path / "unseen.csv", ["text", "intent"], rows)
    json_path, report_dir = tmp_path / "unseen.json", tmp_path / "r"
    argv = ["eval", "intents", "--train", str(slices["train"]), "--test", str(test)]
    code, out, _ = _run(argv + ["--json", str(json_path), "--report-dir", str(report_dir)], capsys)
    assert code == 0
    result = json.loads(json_path.read_text())
    assert any("pay_in_shells" in w for w in result["warnings"])
    assert "warning:" in out and "pay_in_shells" in out
    report = json.loads((report_dir / "intent_report.json").read_text())
    assert any("pay_in_shells" in w for w in report["warnings"])


def test_eval_intents_csv_without_columns_is_a_clear_error(
    slices: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _write(tmp_path / "bad.csv", ["utterance", "label"], [("hi", "greet")])
    code, out, err = _run(["eval", "intents", "--train", str(bad), "--test", str(bad)], capsys)
    assert code != 0
    assert "bad.csv" in err and "text" in err and "intent" in err
    assert "Traceback" not in err + out


def test_eval_intents_empty_test_file_is_a_clear_error(
    slices: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = _write(tmp_path / "empty.csv", ["text", "intent"], [])
    argv = ["eval", "intents", "--train", str(slices["train"]), "--test", str(empty)]
    code, out, err = _run(argv, capsys)
    assert code != 0
    assert "empty.csv" in err and "no data rows" in err
    assert "Traceback" not in err + out


def test_eval_intents_missing_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.csv"
    code, _, err = _run(
        ["eval", "intents", "--train", str(missing), "--test", str(missing)], capsys
    )
    assert code != 0 and "nope.csv" in err and "Traceback" not in err


def test_eval_retrieval_reports_each_mode(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = [
        ("how long does shipping take", "faq-shipping-times"),
        ("is shipping free", "faq-shipping-cost"),
        ("a question about an id that does not exist", "faq-no-such-thing"),
    ]
    path = _write(tmp_path / "queries.csv", ["query", "expected_id"], queries)
    json_path = tmp_path / "retrieval.json"
    argv = ["eval", "retrieval", "--store", str(demo_store), "--queries", str(path)]
    code, out, _ = _run(argv + ["--json", str(json_path)], capsys)
    assert code == 0
    result = json.loads(json_path.read_text())
    for mode in ("dense", "lexical", "hybrid"):
        for key in ("recall@1", "recall@5", "mrr"):
            assert 0.0 <= result[mode][key] <= 1.0
        assert mode in out
    assert result["recall@5"] == result["hybrid"]["recall@5"]
    # The unknown id is a miss in every mode, and reported.
    assert result["hybrid"]["recall@5"] <= round(2 / 3, 4)  # reports round to 4 places
    assert any("faq-no-such-thing" in w for w in result["warnings"])
    # The store's answer calibration comes with it: operating points and held-out figures.
    calibration = result["calibration"]
    assert set(calibration["operating_points"]) == {"quote", "answer", "clarify"}
    assert "answerable_answered" in calibration["validation"]["held_out"]
    assert "calibration: quote >=" in out


def test_eval_retrieval_queries_without_columns_is_a_clear_error(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _write(tmp_path / "q.csv", ["question", "answer_id"], [("hi", "x")])
    argv = ["eval", "retrieval", "--store", str(demo_store), "--queries", str(bad)]
    code, out, err = _run(argv, capsys)
    assert code != 0 and "expected_id" in err and "Traceback" not in err + out
