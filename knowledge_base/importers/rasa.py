"""A Rasa project's NLU data and domain as a shopbot store's intents, FAQs and kept files.

Read: every NLU file under ``data/`` (Rasa 2/3 YAML, or Rasa 1 ``nlu.md``), the
domain (``domain.yml`` or a ``domain/`` folder) and ``config.yml``'s language.

- Intent examples become ``intents.csv`` rows (``text,intent``), their entity
  annotations (``[text](entity)``, ``[text](entity:value)``, ``[text]{"entity": ...}``,
  ``[text][{...}, {...}]``) stripped to the plain text. Intents shopbot names
  differently are renamed to its names (``thankyou`` -> ``thanks``...); a
  retrieval intent's examples (``faq/shipping``) go under its base name (``faq``).
- A retrieval intent with a response (``utter_faq/shipping``) becomes an FAQ:
  its first example is the question, the response's first text the answer.
- Responses are kept as ``responses.yml`` and synonyms, lookup tables and regexes
  as ``synonyms.yml`` (both in Rasa's own format); the store loader ignores them
  and shopbot does not use them yet. Stories, rules, slots and actions are not
  imported: shopbot's dialogue is its own.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from knowledge_base.importers.report import ImportReport, ImportResult, plural
from knowledge_base.store_files import StoreError, read_text

FORMAT = "Rasa project"
# Rasa's own pattern for an annotated entity (rasa/shared/nlu/training_data/entities_parser.py).
ENTITY = re.compile(
    r"\[(?P<text>[^\]]+?)\](\((?P<entity>[^:)]+?)(?::(?P<value>[^)]+))?\)"
    r"|\{(?P<dict>[^}]+?)\}|\[(?P<list>.*?)\])"
)
# Rasa intent names shopbot knows under another name.
RENAMES = {
    "thankyou": "thanks",
    "thank_you": "thanks",
    "thank": "thanks",
    "out_of_scope": "oos",
    "human_handoff": "contact_human_agent",
    "handoff": "contact_human_agent",
    "request_human": "contact_human_agent",
    "talk_to_human": "contact_human_agent",
}
SHIPPED_INTENTS = Path(__file__).resolve().parents[1] / "data"
RASA_VERSION = "3.1"


@dataclass
class _Example:
    text: str
    intent: str  # as written in Rasa
    where: str  # "data/nlu.yml line 12"


@dataclass
class _Project:
    examples: list[_Example] = field(default_factory=list)
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    lookups: dict[str, list[str]] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)
    responses: dict[str, Any] = field(default_factory=dict)
    domain_intents: list[str] = field(default_factory=list)
    stories: int = 0
    rules: int = 0
    language: str = ""


def read_rasa(folder: Path) -> ImportResult:
    """The intents, FAQs, responses and synonyms of the Rasa project in ``folder``."""
    if not folder.is_dir():
        raise StoreError(
            str(folder),
            "is not a folder",
            hint="Pass the Rasa project's folder (the one holding domain.yml and data/)",
        )
    data_dir = folder / "data"
    nlu_files = sorted(
        p for p in data_dir.rglob("*") if p.suffix in (".yml", ".yaml", ".md") and p.is_file()
    )
    if not nlu_files:
        raise StoreError(
            str(folder),
            "has no Rasa training data (data/*.yml or data/nlu.md)",
            hint="Pass the Rasa project's folder; its NLU examples live in data/",
        )
    project = _Project()
    report = ImportReport(source=folder.name or str(folder), kind=FORMAT)
    for path in nlu_files:
        label = path.relative_to(folder).as_posix()
        if path.suffix == ".md":
            _read_markdown_nlu(path, label, project, report)
        else:
            _read_yaml_file(path, label, project, report, domain=False)
    domain = [folder / "domain.yml", folder / "domain.yaml"]
    domain += sorted((folder / "domain").rglob("*.yml")) if (folder / "domain").is_dir() else []
    for path in (p for p in domain if p.is_file()):
        _read_yaml_file(path, path.relative_to(folder).as_posix(), project, report, domain=True)
    config = folder / "config.yml"
    if config.is_file():
        loaded = _load_yaml(config, "config.yml")
        if isinstance(loaded, dict):
            project.language = str(loaded.get("language") or "")
    return _result(project, report)


def _yaml() -> Any:
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - PyYAML comes with transformers
        raise StoreError(
            "Rasa import", "needs PyYAML", hint="Install it: pip install pyyaml"
        ) from exc
    return yaml


def _yaml_error(exc: Exception, label: str) -> StoreError:
    """A YAML parse error as the store's error: the file, the line, what to check."""
    mark = getattr(exc, "problem_mark", None)
    return StoreError(
        label,
        f"is not valid YAML ({getattr(exc, 'problem', None) or exc})",
        line=mark.line + 1 if mark else None,
        hint="Check the indentation and the quotes; `rasa data validate` finds the same",
    )


def _load_yaml(path: Path, label: str) -> Any:
    yaml = _yaml()
    try:
        return yaml.safe_load(read_text(path, label))
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, label) from exc


def _read_yaml_file(
    path: Path, label: str, project: _Project, report: ImportReport, domain: bool
) -> None:
    yaml = _yaml()
    text = read_text(path, label)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, label) from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        return
    project.stories += len(data.get("stories") or [])
    project.rules += len(data.get("rules") or [])
    if isinstance(data.get("responses"), dict):
        project.responses.update(data["responses"])
    if domain:
        for item in data.get("intents") or []:
            name = next(iter(item)) if isinstance(item, dict) and item else item
            if isinstance(name, str):
                project.domain_intents.append(name)
    nlu = data.get("nlu")
    if not isinstance(nlu, list):
        return
    nlu_node = next(v for k, v in node.value if k.value == "nlu")
    for item, item_node in zip(nlu, nlu_node.value, strict=True):
        if not isinstance(item, dict):
            continue
        examples_node = next((v for k, v in item_node.value if k.value == "examples"), None)
        line = item_node.start_mark.line + 1
        for kind in ("intent", "synonym", "lookup", "regex"):
            if kind in item:
                texts = _examples(item.get("examples"), examples_node, label, line, report)
                _collect(project, report, kind, str(item[kind]), texts)
                break


def _examples(
    value: Any, node: Any, label: str, line: int, report: ImportReport
) -> list[tuple[str, str]]:
    """(example, where) pairs of an ``examples:`` block: "- " lines, or a list of {text: ...}."""
    out: list[tuple[str, str]] = []
    if isinstance(value, str) and node is not None:
        first = node.start_mark.line + (2 if node.style in ("|", ">") else 1)
        for i, raw in enumerate(value.split("\n")):
            where = f"{label} line {first + i}"
            stripped = raw.strip()
            if not stripped:
                continue
            if not stripped.startswith("- "):
                report.skip(where, repr(stripped[:60]), "not a '- example' list item")
                continue
            out.append((stripped[2:].strip(), where))
    elif isinstance(value, list) and node is not None:
        for entry, entry_node in zip(value, node.value, strict=True):
            where = f"{label} line {entry_node.start_mark.line + 1}"
            text = entry.get("text") if isinstance(entry, dict) else entry
            if isinstance(text, str) and text.strip():
                out.append((text.strip(), where))
            else:
                report.skip(where, "an example", "no text")
    else:
        report.skip(f"{label} line {line}", "an entry", "no examples")
    return out


def _read_markdown_nlu(path: Path, label: str, project: _Project, report: ImportReport) -> None:
    """Rasa 1's ``nlu.md``: ``## intent:name`` (synonym:, lookup:, regex:) then "- " lines."""
    kind, name, texts = "", "", []
    for number, line in enumerate(read_text(path, label).splitlines(), start=1):
        if m := re.match(r"^##\s*(intent|synonym|lookup|regex)\s*:\s*(.+?)\s*$", line):
            if kind:
                _collect(project, report, kind, name, texts)
            kind, name, texts = m.group(1), m.group(2), []
        elif line.startswith("#"):
            if kind:
                _collect(project, report, kind, name, texts)
            kind = ""
        elif kind and line.strip().startswith("- "):
            texts.append((line.strip()[2:].strip(), f"{label} line {number}"))
    if kind:
        _collect(project, report, kind, name, texts)


def _collect(
    project: _Project, report: ImportReport, kind: str, name: str, texts: list[tuple[str, str]]
) -> None:
    if kind == "synonym":
        project.synonyms.setdefault(name, []).extend(t for t, _ in texts)
    elif kind == "lookup":
        project.lookups.setdefault(name, []).extend(t for t, _ in texts)
    elif kind == "regex":
        project.regexes.setdefault(name, []).extend(t for t, _ in texts)
    else:
        for raw, where in texts:
            plain = _plain_text(raw, where, project, report)
            if plain is not None:
                project.examples.append(_Example(plain, name, where))


def _plain_text(raw: str, where: str, project: _Project, report: ImportReport) -> str | None:
    """The example without its entity annotations; annotated values become synonyms."""

    def replace(m: re.Match[str]) -> str:
        text = m.group("text")
        values = []
        if m.group("value"):
            values.append(m.group("value"))
        for blob in (
            m.group("dict") and "{" + m.group("dict") + "}",
            m.group("list") and "[" + m.group("list") + "]",
        ):
            if blob:
                parsed = json.loads(blob)  # ValueError: reported below
                for entity in parsed if isinstance(parsed, list) else [parsed]:
                    if isinstance(entity, dict) and entity.get("value") is not None:
                        values.append(str(entity["value"]))
        for value in values:
            if value != text and text not in project.synonyms.get(value, []):
                project.synonyms.setdefault(value, []).append(text)
        return text

    try:
        plain = ENTITY.sub(replace, raw)
    except ValueError:
        report.skip(where, repr(raw[:60]), "an entity annotation is not valid JSON")
        return None
    plain = re.sub(r"\s+", " ", plain).strip()
    if not plain:
        report.skip(where, repr(raw[:60]), "empty once its annotations are removed")
        return None
    return plain


def _shipped_intents() -> set[str]:
    """The intent names shopbot's own training data has."""
    names: set[str] = set()
    for path in SHIPPED_INTENTS.glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as fh:
            names |= {row.get("intent", "") for row in csv.DictReader(fh)}
    return names - {""}


def _result(project: _Project, report: ImportReport) -> ImportResult:
    seen: dict[str, _Example] = {}
    rows: list[tuple[str, str]] = []
    renamed: dict[str, str] = {}
    per_intent: dict[str, int] = {}
    first_example: dict[str, _Example] = {}
    for ex in project.examples:
        base = ex.intent.split("/", 1)[0]
        label = RENAMES.get(base, base)
        if label != base:
            renamed[base] = label
        key = ex.text.casefold()
        if key in seen:
            other = seen[key]
            reason = (
                f"a repeat of {other.where}"
                if other.intent == ex.intent
                else f"also an example of intent {other.intent!r} ({other.where}); "
                "one text can teach only one intent"
            )
            report.skip(ex.where, repr(ex.text[:60]), reason)
            continue
        seen[key] = ex
        first_example.setdefault(ex.intent, ex)
        rows.append((ex.text, label))
        per_intent[ex.intent] = per_intent.get(ex.intent, 0) + 1

    faqs = _faqs(project, first_example, report)
    for intent, n in per_intent.items():
        shown = RENAMES.get(intent, intent.split("/", 1)[0])
        suffix = f" (as {shown!r})" if shown != intent else ""
        report.taken.append(f"intent {intent!r}: {n} examples{suffix}")
    report.count("intent examples", len(rows))
    report.count("intents", len({label for _, label in rows}))
    if faqs:
        report.count("FAQs", len(faqs))
    report.notes += [f"intent {a!r} is named {b!r} in shopbot" for a, b in renamed.items()]
    labels = {label for _, label in rows}
    own = sorted(labels & _shipped_intents())
    new = sorted(labels - set(own))
    if own:
        report.notes.append(
            f"intents shopbot already has, now with your examples too: {', '.join(own)}"
        )
    if new:
        report.notes.append(
            f"intents new to shopbot: {', '.join(new)}: the store's intent model learns them "
            "(POST /model/parse names them); shopbot acts only on the intents its routes know "
            "(bot/turn/routes.py) and answers the rest from the store's knowledge"
        )
    missing = [i for i in project.domain_intents if i not in per_intent and i not in labels]
    if missing:
        report.notes.append(f"intents in the domain without examples: {', '.join(missing)}")
    return ImportResult(
        report=report,
        intents=rows,
        faqs=faqs or None,
        files=_kept_files(project, report),
        settings=_settings(project, report),
    )


def _faqs(
    project: _Project, first: dict[str, _Example], report: ImportReport
) -> list[dict[str, Any]]:
    """Retrieval intents with a response: the first example asks, the response answers."""
    faqs = []
    for intent, ex in first.items():
        if "/" not in intent:
            continue
        variations = project.responses.get(f"utter_{intent}") or []
        texts = [v.get("text") for v in variations if isinstance(v, dict) and v.get("text")]
        if not texts:
            report.notes.append(
                f"retrieval intent {intent!r} has no utter_{intent} text: no FAQ made"
            )
            continue
        faqs.append(
            {"question": ex.text, "answer": str(texts[0]).strip(), "category": intent.split("/")[0]}
        )
        report.taken.append(f"FAQ from {intent!r}: {ex.text!r} answered by utter_{intent}")
        if len(texts) > 1:
            report.notes.append(
                f"utter_{intent} has {len(texts)} texts: the FAQ answer is the first; all are in responses.yml"
            )
    return faqs


def _kept_files(project: _Project, report: ImportReport) -> dict[str, str]:
    files: dict[str, str] = {}
    if project.responses:
        files["responses.yml"] = _dump(
            "Responses imported from Rasa (domain responses, Rasa's format). The store loader\n"
            "ignores this file and shopbot does not say these yet; its own texts are\n"
            "bot/messages/ and store.toml's [texts.<language>] tables.",
            {"version": RASA_VERSION, "responses": project.responses},
        )
        report.count("responses", len(project.responses))
        report.not_used.append(
            f"{plural(len(project.responses), 'response')}: kept in responses.yml; "
            "shopbot does not say them yet"
        )
    nlu: list[dict[str, Any]] = []
    for kind, table in (
        ("synonym", project.synonyms),
        ("lookup", project.lookups),
        ("regex", project.regexes),
    ):
        for name, values in table.items():
            unique = list(dict.fromkeys(values))
            nlu.append({kind: name, "examples": "".join(f"- {v}\n" for v in unique)})
    if nlu:
        files["synonyms.yml"] = _dump(
            "Entity synonyms, lookup tables and regexes imported from Rasa (Rasa's NLU format).\n"
            "The store loader ignores this file; shopbot's entity extraction does not read it yet.",
            {"version": RASA_VERSION, "nlu": nlu},
        )
        report.count("synonyms", len(project.synonyms))
        counts = [
            plural(len(project.synonyms), "synonym"),
            plural(len(project.lookups), "lookup table"),
            plural(len(project.regexes), "regex", "regexes"),
        ]
        report.not_used.append(
            f"{', '.join(counts)}: kept in synonyms.yml; shopbot does not use them yet"
        )
    if project.stories or project.rules:
        report.not_used.append(
            f"{plural(project.stories, 'story', 'stories')} and {plural(project.rules, 'rule')}: "
            "not imported; shopbot's dialogue (orders, returns, handoff) is its own"
        )
    return files


def _settings(project: _Project, report: ImportReport) -> dict[str, str]:
    language = project.language.strip().lower()
    if language in ("en", "zh"):
        return {"language": language}
    if language:
        report.notes.append(
            f"config.yml language {language!r}: shopbot speaks en and zh; left at en"
        )
    return {}


def _dump(comment: str, data: dict[str, Any]) -> str:
    yaml = _yaml()

    class _Dumper(yaml.SafeDumper):
        pass

    def text(dumper: Any, value: str) -> Any:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, text)
    header = "".join(f"# {line}\n" for line in comment.splitlines())
    body = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
    return header + "\n" + body
