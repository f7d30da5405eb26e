"""Build a store's artifacts (search index, intent model) only when inputs change.

Layout of ``artifacts_dir(store)``::

    .shopbot/
      build/            the current good build (swapped in whole, never edited)
        manifest.json   inputs and their hashes, encoder, timings
        index/          knowledge_base.index
        calibration.json  knowledge_base.calibration: when to answer, quote, ask, abstain
        intents/        training.intents
      shopbot.db        conversation log and order changes (not part of a build)

A build is written to a temporary folder beside ``build/`` and renamed into
place only when complete, so a failed build (bad product line, crash, Ctrl-C)
leaves the previous artifacts untouched.

The store's ``language`` chooses the sentence encoder
(``knowledge_base.embeddings.encoder_name_for``: MiniLM for English, the
multilingual e5 otherwise), which embeds both the index and the intent model,
and the lexical analyzer (Chinese word segmentation for ``zh``); the manifest
records both, and a change of either rebuilds. A Chinese store's intent model
also trains on the shipped Chinese examples (``training.intent_data``), whose
hashes are in its fingerprint; an English store's training data is unchanged.

A store not in Chinese also gets a small Chinese model beside its own
(``intents/languages/zh/``, ``bot.nlu.intent_model.LanguageIntentModel``): the
lexical head alone, trained on the same shipped Chinese examples, so that a
Chinese customer's "取消订单" on an English store is understood without the
English model or encoder. It depends on shipped data only, not on the store, so
its own fingerprint (the manifest's ``language_intent_models``) is kept apart from
the store's: when only it changes, the new build is a copy of the current one with
the new language models (no re-indexing); it is cached per machine like the
store's model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge_base.cache import artifacts_dir, cache_root, conversation_db_path, sha256_file
from knowledge_base.store import Store, load_store

BUILD_FORMAT = 2
# The languages a store in another language gets a ``LanguageIntentModel`` for.
MESSAGE_LANGUAGES = ("zh",)
# Training data shipped with shopbot (Bitext intents, out-of-scope examples).
SHIPPED_DATA = Path(__file__).resolve().parent / "data"
MANIFEST = "manifest.json"
log = logging.getLogger("shopbot.build")


@dataclass
class Artifacts:
    """A store and the paths of its current good build."""

    store: Store
    root: Path  # the .shopbot folder
    build_dir: Path
    manifest: dict[str, Any]
    rebuilt: bool
    encoder: Any = None  # the encoder that built (and must load) the index and intents

    @property
    def index_dir(self) -> Path:
        return self.build_dir / "index"

    @property
    def calibration_path(self) -> Path:
        return self.build_dir / "calibration.json"

    @property
    def intents_dir(self) -> Path:
        return self.build_dir / "intents"

    @property
    def db_path(self) -> Path:
        """The conversation database: customers' data, so never in the cache
        (``knowledge_base.cache.conversation_db_path``)."""
        return conversation_db_path(self.store.path)


def _language_data(language: str) -> list[Path]:
    """Shipped data a store in ``language`` is calibrated and trained on, beyond the
    English files (Chinese: ``zh/oos.csv`` for calibration; it and ``zh/intents.csv``
    for the intent model); in the build's fingerprint, so a change of one rebuilds."""
    from knowledge_base.index import lexical_language
    from training.intent_data import language_training_files

    if lexical_language(language) != "zh":
        return []
    return sorted(set((SHIPPED_DATA / "zh").glob("*.csv")) | set(language_training_files(language)))


def _input_fingerprint(store: Store, encoder_name: str) -> dict[str, Any]:
    files = list(store.input_files)
    intents_csv = store.path / "intents.csv"
    if intents_csv.exists():
        files.append(intents_csv)
    inputs = {}
    for f in sorted(set(files)):
        key = str(f.relative_to(store.path)) if f.is_relative_to(store.path) else str(f)
        inputs[key] = sha256_file(f)
    from bot.nlu.intent_model import FORMAT_VERSION as INTENT_MODEL_VERSION
    from knowledge_base.calibration import CALIBRATION_FORMAT
    from knowledge_base.index import lexical_language

    shipped = {p.name: sha256_file(p) for p in sorted(SHIPPED_DATA.glob("*.csv"))}
    language = lexical_language(store.settings.language)
    shipped |= {f"{p.parent.name}/{p.name}": sha256_file(p) for p in _language_data(language)}
    fingerprint = {
        "format": BUILD_FORMAT,
        # A new intent model format (say, kNN support vectors) retrains existing builds.
        "intent_model_version": INTENT_MODEL_VERSION,
        "calibration_format": CALIBRATION_FORMAT,
        "encoder": encoder_name,
        "inputs": inputs,
        "shipped_training_data": shipped,
    }
    if language != "en":  # absent = English, as in every build before
        from knowledge_base import chinese

        fingerprint["lexical"] = {"language": language, "segmenter": chinese.segmenter_version()}
    return fingerprint


def _language_models_fingerprint(language: str) -> dict[str, Any]:
    """Per extra message language of a store in ``language`` (``MESSAGE_LANGUAGES``
    but its own): the language model's format and its training files' hashes."""
    from bot.nlu.intent_model import LANGUAGE_FORMAT_VERSION
    from training.intent_data import language_training_files

    return {
        code: {
            "format_version": LANGUAGE_FORMAT_VERSION,
            "data": {
                f"{p.parent.name}/{p.name}": sha256_file(p) for p in language_training_files(code)
            },
        }
        for code in MESSAGE_LANGUAGES
        if code != language
    }


def _read_manifest(build_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((build_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def ensure_built(
    store_dir: str | Path, progress: bool = True, force: bool = False, encoder: Any = None
) -> Artifacts:
    """Load the store and make sure its artifacts match its current files.

    The store's language chooses the encoder (``Artifacts.encoder``);
    ``encoder``, an already loaded one, is used when it is that one.

    Raises ``knowledge_base.store_files.StoreError`` for bad store data, before any
    artifact is touched.
    """
    from knowledge_base.embeddings import encoder_name_for, get_encoder

    store = load_store(store_dir)
    wanted = encoder_name_for(store.settings.language)
    if encoder is None or encoder.name != wanted:
        encoder = get_encoder(wanted)
    root = artifacts_dir(store.path)
    build_dir = root / "build"
    fingerprint = _input_fingerprint(store, encoder.name)
    from bot.nlu.intent_model import LANGUAGES_DIR
    from knowledge_base.index import lexical_language

    languages = _language_models_fingerprint(lexical_language(store.settings.language))
    current = _read_manifest(build_dir)
    if (
        not force
        and current is not None
        and {k: current.get(k) for k in fingerprint} == fingerprint
    ):
        if (current.get("language_intent_models") or {}) == languages:
            return Artifacts(store, root, build_dir, current, rebuilt=False, encoder=encoder)

        good = current  # only the language models differ: keep the rest as built

        def fill(out: Path) -> dict[str, Any]:
            shutil.copytree(build_dir, out, dirs_exist_ok=True)
            shutil.rmtree(out / "intents" / LANGUAGES_DIR, ignore_errors=True)
            return _add_language_models(out, good, languages, progress)

    else:

        def fill(out: Path) -> dict[str, Any]:
            manifest = _build_into(out, store, encoder, fingerprint, progress)
            return _add_language_models(out, manifest, languages, progress)

    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="build.tmp-", dir=root))
    try:
        manifest = fill(tmp)
        old = root / f"build.old-{os.getpid()}"
        if build_dir.exists():
            build_dir.rename(old)
        tmp.rename(build_dir)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Artifacts(store, root, build_dir, manifest, rebuilt=True, encoder=encoder)


def _add_language_models(
    out: Path, manifest: dict[str, Any], languages: dict[str, Any], progress: bool
) -> dict[str, Any]:
    """Train (or reuse) the build's language models into ``out/intents/languages/`` and
    record their fingerprint in the manifest (rewritten; returned)."""
    from bot.nlu.intent_model import LANGUAGES_DIR

    for code in languages:
        _build_language_model(code, out / "intents" / LANGUAGES_DIR / code, progress)
    manifest = {k: v for k, v in manifest.items() if k != "language_intent_models"}
    if languages:  # absent = none, as in every build before
        manifest["language_intent_models"] = languages
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return manifest


def _build_into(
    out: Path, store: Store, encoder: Any, fingerprint: dict[str, Any], progress: bool
) -> dict[str, Any]:
    from knowledge_base.index import build_index
    from training.intent_data import builtin_training_data
    from training.intents import IntentClassifier

    started = time.time()
    documents = store.documents()
    if progress:
        print(f"Indexing {len(documents)} documents of {store.settings.name} ...", flush=True)
    language = store.settings.language
    index_info = build_index(
        documents, encoder, out / "index", progress=progress, language=language
    )
    index_seconds = time.time() - started

    from knowledge_base.calibration import calibrate
    from knowledge_base.index import KnowledgeIndex

    t0 = time.time()
    calibration = calibrate(
        KnowledgeIndex.load(out / "index", encoder), progress=progress, language=language
    )
    calibration.save(out / "calibration.json")
    calibration_seconds = time.time() - t0
    for warning in calibration.warnings:
        log.warning("%s: %s", store.path, warning)
        if progress:
            print(f"warning: {warning}", flush=True)

    intents_csv = store.path / "intents.csv"
    texts, labels = builtin_training_data(
        intents_csv if intents_csv.exists() else None, language=language
    )
    if progress:
        print(
            f"Training the intent model on {len(texts)} examples, {len(set(labels))} intents ...",
            flush=True,
        )
    t0 = time.time()
    # The same examples and encoder train the same model: stores without their own
    # intents.csv share one, trained once per machine (a per-user cache).
    digest = hashlib.sha256(
        json.dumps(
            [fingerprint["intent_model_version"], encoder.name, texts, labels], ensure_ascii=False
        ).encode()
    ).hexdigest()[:24]
    if _reuse_cached(digest, out / "intents"):
        if progress:
            print("  (the same intent model was trained before: reused)", flush=True)
    else:
        IntentClassifier.train(texts, labels, encoder, progress=progress).save(out / "intents")
        _cache(digest, out / "intents")
    manifest = {
        **fingerprint,
        "store": store.settings.name,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "documents": len(documents),
        "index": index_info,
        "intent_examples": len(texts),
        "index_seconds": round(index_seconds, 2),
        "calibration": calibration.summary(),
        "calibration_seconds": round(calibration_seconds, 2),
        "intent_seconds": round(time.time() - t0, 2),
        "build_seconds": round(time.time() - started, 2),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return manifest


def _reuse_cached(digest: str, dest: Path) -> bool:
    """Copy the model cached per machine under ``digest`` to ``dest``, if there is one."""
    cached = cache_root() / "intent-models" / digest
    if not (cached / "DONE").is_file():
        return False
    shutil.copytree(cached, dest, ignore=shutil.ignore_patterns("DONE"))
    return True


def _cache(digest: str, folder: Path) -> None:
    """Keep a copy of the model in ``folder`` in the per-machine cache under ``digest``."""
    cached = cache_root() / "intent-models" / digest
    staging: Path | None = None
    try:  # best effort: a read-only cache only costs the next build time
        cached.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="intents.tmp-", dir=cached.parent))
        shutil.copytree(folder, staging, dirs_exist_ok=True)
        (staging / "DONE").write_text("ok")
        os.replace(staging, cached)
    except OSError as exc:  # no cache folder, or another build cached it first
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        log.info("intent model not cached (%s)", exc)


def _build_language_model(language: str, dest: Path, progress: bool) -> None:
    """Train (or reuse from the per-machine cache) the ``LanguageIntentModel`` of
    ``language`` on its shipped examples, into ``dest``."""
    from bot.nlu.intent_model import LANGUAGE_FORMAT_VERSION
    from training.intent_data import language_training_files, read_intents_csv

    rows = [row for p in language_training_files(language) for row in read_intents_csv(p)]
    digest = hashlib.sha256(
        json.dumps(
            ["language", LANGUAGE_FORMAT_VERSION, language, rows], ensure_ascii=False
        ).encode()
    ).hexdigest()[:24]
    if _reuse_cached(digest, dest):
        return
    if progress:
        print(f"Training the {language} message model on {len(rows)} examples ...", flush=True)
    train_language_model(language, rows).save(dest, {"examples": len(rows)})
    _cache(digest, dest)


def train_language_model(
    language: str, rows: list[tuple[str, str]], seed: int = 0, validation: float = 0.2
) -> Any:
    """A ``LanguageIntentModel`` fitted on ``(text, intent)`` rows: the lexical head,
    with the temperature that best fits (log-likelihood) a held-out ``validation``
    share of the rows, then refitted on all of them."""
    import numpy as np

    from bot.nlu.intent_model import LanguageIntentModel
    from bot.nlu.language import simplified
    from training.intents import LexicalHead

    if not rows:
        raise ValueError(f"no training examples for the {language} message model")
    texts = [simplified(t) for t, _ in rows]
    intents = sorted({i for _, i in rows})
    y = np.array([intents.index(i) for _, i in rows])
    order = np.random.default_rng(seed).permutation(len(rows))
    val, train = order[: int(len(rows) * validation)], order[int(len(rows) * validation) :]
    head = LexicalHead.fit([texts[i] for i in train], y[train], len(intents), seed)
    logp = np.log(np.clip(head.probs([texts[i] for i in val]), 1e-9, 1.0))

    def nll(t: float) -> float:
        z = logp / t
        z = z - z.max(axis=1, keepdims=True)
        z = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-z[np.arange(len(val)), y[val]].mean())

    temperature = min(np.arange(0.2, 1.01, 0.05), key=nll) if len(val) else 1.0
    head = LexicalHead.fit(texts, y, len(intents), seed)
    return LanguageIntentModel(language, intents, head, round(float(temperature), 2))
