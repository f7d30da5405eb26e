"""The message catalogue: every fixed text a customer reads, in each language the bot speaks.

:data:`CATALOGUE` holds the texts by language (``en.py``, ``zh.py`` simplified Chinese), each
complete and with the same ``{placeholders}``. ``{store}`` is always the store's name.
A store may override any text per language in its ``store.toml``::

    [texts.zh]
    greeting = "亲，欢迎光临！有什么可以帮您？"
    handoff = "已为您转接人工客服，工作时间 9:00–18:00。"

The older top-level keys ``greeting``, ``handoff_text`` and ``contact_text`` (or
``contact``) are the texts in the store's own ``language``, written as is (no
placeholders); a ``[texts.<language>]`` entry for the same text wins over them. An
unknown language, key or placeholder in an override is refused with a ``StoreError``
naming the file and the key.

Dialogue (bot/turn/pipeline.py), escalation (bot/turn/escalation.py) and the business actions
(bot/actions/, which read the conversation's ``language`` slot) all speak through a
:class:`Texts`, the catalogue bound to one reply's language.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.messages import en, zh
from bot.nlu.language import DEFAULT, SUPPORTED, normalise

CATALOGUE: dict[str, dict[str, str]] = {"en": en.TEXTS, "zh": zh.TEXTS}

# The store.toml keys that were the store's texts before the catalogue, in its language.
LEGACY_KEYS = {"greeting": "greeting", "handoff_text": "handoff", "contact_text": "contact"}


def placeholders(template: str) -> set[str]:
    """The ``{names}`` a text uses (``ValueError`` for a malformed one such as ``"{"``)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


class Texts:
    """The catalogue in one language: ``texts("clarify")``, ``texts("verified", first_name=...)``."""

    def __init__(self, catalogue: Catalogue, language: str) -> None:
        self.catalogue = catalogue
        self.language = language

    def __call__(self, key: str, **values: Any) -> str:
        return self.catalogue.text(key, self.language, **values)


class Catalogue:
    """The catalogue with one store's overrides, its name and its language."""

    def __init__(
        self,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
        store_name: str = "Our store",
        store_language: str | None = DEFAULT,
    ) -> None:
        """``overrides``: language -> key -> template (checked: see :meth:`for_store`)."""
        self.store_name = store_name
        code = normalise(store_language)
        self.store_language = code if code in SUPPORTED else DEFAULT
        self.overrides = {lang: dict(texts) for lang, texts in (overrides or {}).items()}

    @classmethod
    def for_store(cls, store: Any) -> Catalogue:
        """The catalogue of a loaded ``knowledge_base.store.Store`` (its ``store.toml``).

        Raises ``StoreError`` naming ``store.toml`` and the key for an override of an
        unknown language or text, a value that is not a string, or a placeholder the
        text does not have.
        """
        path = getattr(store, "path", None)
        source = str(Path(path) / "store.toml") if path is not None else "store.toml"
        return cls.for_settings(store.settings, source)

    @classmethod
    def for_settings(cls, settings: Any, source: str = "store.toml") -> Catalogue:
        """The catalogue of ``StoreSettings`` (``raw`` is the parsed ``store.toml``)."""
        raw = getattr(settings, "raw", None) or {}
        table = {**raw.get("store", {}), **raw} if isinstance(raw.get("store"), dict) else raw
        language = normalise(getattr(settings, "language", None)) or DEFAULT
        overrides: dict[str, dict[str, str]] = {}
        # The old single-language keys, written as plain text: braces are literal.
        own = language if language in SUPPORTED else DEFAULT
        for key, text_key in LEGACY_KEYS.items():
            value = table.get(key) or (table.get("contact") if key == "contact_text" else None)
            if isinstance(value, str) and value.strip():
                literal = value.strip().replace("{", "{{").replace("}", "}}")
                overrides.setdefault(own, {})[text_key] = literal
        for lang, texts in _override_tables(table, source).items():
            overrides.setdefault(lang, {}).update(texts)
        return cls(overrides, getattr(settings, "name", "Our store"), language)

    def for_language(self, language: str | None) -> Texts:
        """The texts in ``language``; the store's language when it is None or not spoken."""
        code = normalise(language)
        return Texts(self, code if code in SUPPORTED else self.store_language)

    def text(self, key: str, language: str | None, **values: Any) -> str:
        """Text ``key`` in ``language`` (the store's override if it has one), filled in."""
        code = normalise(language)
        lang = code if code in SUPPORTED else self.store_language
        template = self.overrides.get(lang, {}).get(key) or CATALOGUE[lang][key]
        return template.format(store=self.store_name, **values)

    def greeting(self) -> str:
        """The greeting in the store's own language (the widget shows it before any message)."""
        return self.text("greeting", self.store_language)


def _override_tables(table: dict[str, Any], source: str) -> dict[str, dict[str, str]]:
    """The checked ``[texts.<language>]`` tables of ``store.toml``."""
    from knowledge_base.store_files import StoreError

    texts = table.get("texts")
    if texts is None:
        return {}
    example = 'Write it as a table: [texts.zh] then greeting = "..."'
    if not isinstance(texts, dict):
        raise StoreError(
            source, "'texts' must be a table of languages", field="texts", hint=example
        )
    out: dict[str, dict[str, str]] = {}
    for lang, entries in texts.items():
        where = f"texts.{lang}"
        if lang not in SUPPORTED:
            raise StoreError(
                source,
                f"'{where}': shopbot has no texts in language '{lang}'",
                field=where,
                hint=f"Use one of: {', '.join(SUPPORTED)}",
            )
        if not isinstance(entries, dict):
            raise StoreError(source, f"'{where}' must be a table", field=where, hint=example)
        for key, value in entries.items():
            field = f"{where}.{key}"
            if key not in CATALOGUE[lang]:
                close = difflib.get_close_matches(key, list(CATALOGUE[lang]), n=1)
                hint = f"Did you mean '{close[0]}'? " if close else ""
                raise StoreError(
                    source,
                    f"'{field}' is not a text shopbot says",
                    field=field,
                    hint=hint + "The keys are those of bot/messages/en.py",
                )
            if not isinstance(value, str) or not value.strip():
                raise StoreError(
                    source,
                    f"'{field}' must be a non-empty string",
                    field=field,
                    hint=f'Write it in quotes: {key} = "..."',
                )
            allowed = placeholders(CATALOGUE[lang][key]) | {"store"}
            try:
                used = placeholders(value)
            except ValueError as exc:
                raise StoreError(
                    source,
                    f"'{field}' is not a valid text ({exc})",
                    field=field,
                    hint="Write a literal brace as {{ or }}",
                ) from exc
            unknown = sorted(used - allowed)
            if unknown:
                names = ", ".join("{" + n + "}" for n in unknown)
                have = ", ".join("{" + n + "}" for n in sorted(allowed)) or "none"
                raise StoreError(
                    source,
                    f"'{field}' uses {names}, which this text does not have",
                    field=field,
                    hint=f"Its placeholders: {have}",
                )
            out.setdefault(lang, {})[key] = value.strip()
    return out
