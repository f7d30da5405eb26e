"""Writing an import into a store folder: nothing overwritten silently, the result loaded.

``write_store`` plans every file first. A file the import would write that is
already there is refused (``mode="refuse"``, the default: nothing is written),
replaced with the old one kept as ``NAME.bak`` (``"force"``), or merged
(``"merge"``: products by id, FAQs by question, intent examples by text; the
import wins, everything else is kept, and the report counts each). The new
records are first checked with the store's own loaders, so an import never
leaves a store the loader rejects; last, the whole store is loaded again and the
report says whether it loads.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from knowledge_base.catalog import load_products
from knowledge_base.faq import load_faqs
from knowledge_base.importers.faq import question_key
from knowledge_base.importers.report import ImportReport, ImportResult
from knowledge_base.importers.starter import check_store, default_name, store_toml
from knowledge_base.store_files import StoreError, read_text

MODES = ("refuse", "force", "merge")


@dataclass
class _Plan:
    name: str  # the file written, relative to the store
    records: Any  # list of dicts, list of rows, or the text of a kept file
    existing: list[Path] = field(default_factory=list)  # what is there now
    summary: str = ""


def write_store(
    store: Path,
    result: ImportResult,
    mode: str = "refuse",
    dry_run: bool = False,
    settings: dict[str, str] | None = None,
) -> ImportReport:
    """Write ``result`` into the store folder ``store``; returns the completed report.

    ``settings`` (name, currency, language) fill a new ``store.toml`` when the store
    has none; an existing one is never changed. Raises ``StoreError`` when there is
    nothing to import, when a file exists and ``mode`` is ``"refuse"``, or when an
    existing file to merge into does not load; nothing is written then.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    report = result.report
    root = store.expanduser()
    if root.exists() and not root.is_dir():
        raise StoreError(
            str(root), "is a file, not a store folder", hint="Pass --store with a folder"
        )
    plans = [
        _Plan("products.jsonl", result.products) if result.products else None,
        _Plan("faq.jsonl", result.faqs) if result.faqs else None,
        _Plan("intents.csv", result.intents) if result.intents else None,
    ]
    plans = [p for p in plans if p is not None]
    plans += [_Plan(name, text) for name, text in result.files.items()]
    if not plans:
        reasons = "; ".join(f"{s.where}: {s.reason}" for s in report.skipped[:3])
        raise StoreError(
            report.source,
            "has nothing shopbot can import"
            + (f" ({len(report.skipped)} skipped)" if reasons else ""),
            hint=reasons or "Check that it is the right file",
        )
    for plan in plans:
        stem = plan.name.split(".")[0]
        names = [f"{stem}.jsonl", f"{stem}.csv"] if stem in ("products", "faq") else [plan.name]
        plan.existing = [root / n for n in names if (root / n).is_file()]

    conflicts = [p for plan in plans for p in plan.existing]
    both = next((plan for plan in plans if len(plan.existing) > 1), None)
    if both is not None and mode == "merge":
        raise StoreError(
            str(root),
            f"has both {both.existing[0].name} and {both.existing[1].name}",
            hint="Nothing was written. Keep one of them (the store loader refuses both), then merge",
        )
    if conflicts and mode == "refuse" and not dry_run:
        listed = ", ".join(p.name for p in conflicts)
        raise StoreError(
            str(root),
            f"already has {listed}",
            hint="Nothing was written. Add --merge to merge the import into "
            f"{'them' if len(conflicts) > 1 else 'it'} (the same ids, questions or texts are "
            "replaced, the rest kept) or --force to replace "
            f"{'them' if len(conflicts) > 1 else 'it'} (the old file is kept as NAME.bak)",
        )
    _check_records(result)
    texts = {plan.name: _render(plan, mode, report) for plan in plans}

    toml_new = not (root / "store.toml").is_file()
    values = {**result.settings, **{k: v for k, v in (settings or {}).items() if v}}
    if dry_run:
        for p in plans:
            if p.existing and mode == "refuse":
                there = ", ".join(e.name for e in p.existing)
                report.written.append(
                    f"{p.name}: would be refused: the store has {there} (add --merge or --force)"
                )
            else:
                report.written.append(f"{p.name}: would be {p.summary}")
        if toml_new:
            report.written.append("store.toml: would be created")
        report.store_check = "Dry run: nothing was written."
        return report

    root.mkdir(parents=True, exist_ok=True)
    for plan in plans:
        kept = [f"{old.name} -> {_backup(old).name}" for old in plan.existing]
        _write_atomic(root / plan.name, texts[plan.name])
        note = f" (the old file is kept: {', '.join(kept)})" if kept else ""
        report.written.append(f"{plan.name}: {plan.summary}{note}")
    if toml_new:
        name = values.get("name") or default_name(root)
        currency = values.get("currency") or "USD"
        _write_atomic(
            root / "store.toml", store_toml(name, currency, values.get("language") or "en")
        )
        report.written.append(
            f"store.toml: created (name {name!r}, currency {currency.upper()}: check them)"
        )
    elif settings and any(settings.values()):
        report.notes.append(
            "store.toml was kept as it is; --name and --currency apply to a new one"
        )
    check_store(root, report)
    return report


def _render(plan: _Plan, mode: str, report: ImportReport) -> str:
    """The new file's text (merged with the existing file in ``merge`` mode); sets the summary."""
    merging = mode == "merge" and plan.existing
    if plan.name == "products.jsonl":
        records = plan.records
        if merging:
            old = [_clean(asdict(p)) for p in load_products(plan.existing[0])]
            records = _merge(old, records, lambda r: r["id"], plan, "products")
        else:
            plan.summary = f"{len(records)} products"
        return _jsonl(records)
    if plan.name == "faq.jsonl":
        records = plan.records
        if merging:
            old = [_clean(asdict(f)) for f in load_faqs(plan.existing[0])]
            records = _merge_faqs(old, records, plan)
        else:
            plan.summary = f"{len(records)} FAQs"
        return _jsonl(records)
    if plan.name == "intents.csv":
        rows = plan.records
        if merging:
            old = _read_intents(plan.existing[0])
            merged = _merge(
                [{"text": t, "intent": i} for t, i in old],
                [{"text": t, "intent": i} for t, i in rows],
                lambda r: r["text"].casefold(),
                plan,
                "intent examples",
            )
            rows = [(r["text"], r["intent"]) for r in merged]
        else:
            plan.summary = f"{len(rows)} intent examples"
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["text", "intent"])
        writer.writerows(rows)
        return out.getvalue()
    plan.summary = "written" if not plan.existing else "replaced"
    if merging:
        report.notes.append(
            f"{plan.name} was replaced, not merged (merging covers products, FAQs and intents)"
        )
    return plan.records


def _merge(old: list[dict], new: list[dict], key: Any, plan: _Plan, what: str) -> list[dict]:
    merged = {key(r): r for r in old}
    replaced = sum(1 for r in new if key(r) in merged)
    for r in new:
        merged[key(r)] = r  # a replaced record keeps its place
    added = len(new) - replaced
    plan.summary = (
        f"merged into {plan.existing[0].name}: {added} {what} added, {replaced} replaced, "
        f"{len(old) - replaced} kept"
    )
    return list(merged.values())


def _merge_faqs(old: list[dict], new: list[dict], plan: _Plan) -> list[dict]:
    by_question = {question_key(f["question"]): f for f in old}
    ids = {f["id"] for f in old}
    replaced = 0
    for faq in new:
        match = by_question.get(question_key(faq["question"]))
        if match is not None:
            replaced += 1
            match["answer"] = faq["answer"]  # the question keeps its place and its id
            if faq.get("category"):
                match["category"] = faq["category"]
        else:
            if faq.get("id") in ids:
                faq = {k: v for k, v in faq.items() if k != "id"}
            by_question[question_key(faq["question"])] = faq
    added = len(new) - replaced
    plan.summary = (
        f"merged into {plan.existing[0].name}: {added} FAQs added, {replaced} replaced, "
        f"{len(old) - replaced} kept"
    )
    return list(by_question.values())


def _read_intents(path: Path) -> list[tuple[str, str]]:
    reader = csv.DictReader(io.StringIO(read_text(path, path.name), newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    if "text" not in header or "intent" not in header:
        raise StoreError(
            path.name,
            "has no text,intent header",
            line=1,
            hint="Fix the file, or use --force to replace it (the old one is kept as .bak)",
        )
    reader.fieldnames = header
    return [
        (r["text"].strip(), r["intent"].strip())
        for r in reader
        if (r.get("text") or "").strip() and (r.get("intent") or "").strip()
    ]


def _check_records(result: ImportResult) -> None:
    """Load the new records with the store's own loaders before anything is written."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, records, loader in (
            ("products.jsonl", result.products, load_products),
            ("faq.jsonl", result.faqs, load_faqs),
        ):
            if not records:
                continue
            path = Path(tmp) / name
            path.write_text(_jsonl(records), encoding="utf-8")
            try:
                loader(path)
            except StoreError as exc:
                raise StoreError(
                    result.report.source,
                    f"the import made a record the store loader rejects ({exc})",
                    hint="Nothing was written. This is a bug in shopbot's importer: please report it",
                ) from exc


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    """A loaded record as a file line: empty optional fields left out."""
    return {k: v for k, v in record.items() if v not in ("", None, {}, [])}


def _jsonl(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def _backup(path: Path) -> Path:
    """Move ``path`` aside as ``NAME.bak`` (``NAME.bak.2``... when that is taken)."""
    target, n = path.with_name(path.name + ".bak"), 2
    while target.exists():
        target, n = path.with_name(f"{path.name}.bak.{n}"), n + 1
    path.rename(target)
    return target


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and a rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
