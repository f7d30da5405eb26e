"""Entities in a customer's message: order ids, emails, zips, names, products, variant options.

Rules and fuzzy matching rather than a trained tagger: the entities a shop needs
have regular shapes (``#W2611340``, an email, a 5-digit zip) or come from the
store's own catalogue, which changes per store and has no labelled data.

``extract_entities(text, catalog)`` returns Rasa-style dicts::

    {"entity": "order_id", "value": "#W2611340", "start": 17, "end": 26,
     "extractor": "shopbot"}

``catalog`` is a list of products; anything with ``.id``, ``.title`` and
``.variants`` (each with an ``.options`` dict) works, e.g.
``knowledge_base.store.Product``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process

EXTRACTOR = "shopbot"

# "#W2611340", "W2611340", "w 2611340", "# W2611340"; not glued to other letters/digits.
ORDER_ID_RE = re.compile(r"(?<![A-Za-z0-9])#?\s?[Ww]\s?(\d{7})(?!\d)")
# ASCII local part: in Chinese text an address follows characters with no space
# ("我的邮箱是jane@example.com"), and Python's \w would take them into the address.
EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9_.+-])[A-Za-z0-9_.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])"
)
# 5 digits (optionally ZIP+4), not part of a longer number, a price or a decimal.
ZIP_RE = re.compile(r"(?<![\w#$€£.,-])(\d{5})(?:-\d{4})?(?![\w-]|[.,]\d)")

# Name patterns. "my name is" / "name:" are explicit; "I'm" / "I am" / "this is"
# are also everyday phrases ("I'm looking for boots"), so they get stricter checks.
_STRONG_NAME_RE = re.compile(r"\b(?:my\s+(?:full\s+)?name\s+is|name\s*[:=]|name's)\s*", re.I)
_WEAK_NAME_RE = re.compile(
    r"(?:^|(?<=[\s,.!;]))(?:i'm|i’m|im|i\s+am|this\s+is|it's|it\s+is)\s+", re.I
)
_NAME_WORD = r"[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ'’-]*"
_NAME_RE = re.compile(rf"({_NAME_WORD})(?:\s+({_NAME_WORD}))?(?:\s+({_NAME_WORD}))?")
# A message that is only a name and a zip, as the verification question asks for them:
# "ethan li, zip 43135", "Ethan Li 43135".
_NAME_AND_ZIP_RE = re.compile(
    rf"^\s*({_NAME_WORD})\s+({_NAME_WORD})(?:\s+({_NAME_WORD}))?\s*[,;]?\s*"
    r"(?:(?:and\s+)?(?:my\s+)?zip(?:\s*code)?(?:\s+is)?\s*[:=]?\s*)?\d{5}(?:-\d{4})?\s*[.!]?\s*$",
    re.I,
)
# Words after which a name may end ("I'm Yusuf Rossi and my zip is ...").
_AFTER_NAME = {"and", "my", "from", "here", "with", "zip", "email", "order", "but", "again",
               "i", "i'm", "im", "please", "thanks", "thank", "the"}  # fmt: skip
# Words that are never part of a name: "I'm looking for...", "this is the wrong size".
_NOT_NAME = set(
    """a an the and or but not no yes so very really just still also too quite pretty
    here there this that these those it its my your our their his her me you we they he she
    i im i'm is am are was were be been being have has had do does did will would can could
    should shall may might must to of in on at for from with without about by as into onto
    over under after before again up down out off than then now today tomorrow yesterday
    looking trying calling writing waiting wondering having getting going hoping asking
    interested unable able glad happy sad sorry sure afraid angry upset mad frustrated
    disappointed annoyed confused worried fine okay ok good great bad new old done ready
    back home away late early busy tired curious concerned satisfied unhappy pleased
    forever always never already actually currently totally extremely
    what when where why how who which whom whose if because while until unless
    order orders product item items refund return account password email zip code number
    customer client buyer member user manager owner help support agent""".split()
)

# Option values that are ordinary words; matched only when the message is about a
# product that has them, or names the option ("size medium", "speed: high").
_GENERIC_VALUES = set(
    """yes no none not resistant standard high low medium full half fixed light dark fresh
    basic custom plain art small large portable men women unisex electric gas manual automatic
    digital wireless wired timer camera laptop espresso analog road mountain drip capsule
    hydration adjustable""".split()
)


@dataclass
class _OptionValue:
    value: str  # as in the catalogue
    names: Counter = field(default_factory=Counter)  # option name -> number of products
    products: set[str] = field(default_factory=set)
    pattern: re.Pattern[str] | None = None


@dataclass
class _Title:
    product_id: str
    title: str
    words: list[str]  # normalised, singular
    joined: str  # words without spaces: "tshirt"


@dataclass
class _CatalogIndex:
    titles: list[_Title]
    values: dict[str, _OptionValue]  # key: lower-cased value
    option_names: set[str]
    product_options: dict[str, dict[str, set[str]]]  # product id -> option -> lower values
    heads: dict[str, list[_Title]]  # last title word -> titles ending with it


# id(catalog) -> (catalog, its length, index); NLU passes the same list every turn.
_INDEX_CACHE: dict[int, tuple[Any, int, _CatalogIndex]] = {}


def _singular(word: str) -> str:
    """Crude English singular, enough for product nouns (boots, glasses, watches)."""
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return word


def _norm_words(text: str) -> list[tuple[str, int, int]]:
    """Lower-cased singular word tokens with their character spans; hyphens split words."""
    return [
        (_singular(m.group().lower()), m.start(), m.end())
        for m in re.finditer(r"[A-Za-z0-9]+", text)
    ]


def _value_pattern(value: str) -> re.Pattern[str]:
    """Whole-word, case-insensitive; "1000ml" also matches "1000 ml", "v-neck" "v neck"."""
    parts = []
    for i, ch in enumerate(value):
        if ch in " -":
            parts.append(r"[\s-]?")
            continue
        parts.append(re.escape(ch))
        nxt = value[i + 1] if i + 1 < len(value) else ""
        if nxt and ch.isdigit() and nxt.isalpha():
            parts.append(r"\s?")
    return re.compile(r"(?<![\w-])" + "".join(parts) + r"(?![\w-])", re.I)


def _catalog_index(catalog: list[Any]) -> _CatalogIndex:
    """Lookup tables for a catalogue, cached per catalogue object (NLU reuses one list)."""
    cached = _INDEX_CACHE.get(id(catalog))
    if cached is not None and cached[0] is catalog and cached[1] == len(catalog):
        return cached[2]
    titles: list[_Title] = []
    values: dict[str, _OptionValue] = {}
    option_names: set[str] = set()
    product_options: dict[str, dict[str, set[str]]] = {}
    for product in catalog:
        pid, title = str(product.id), str(product.title)
        words = [w for w, _, _ in _norm_words(title)]
        if words:
            titles.append(_Title(pid, title, words, "".join(words)))
        opts: dict[str, set[str]] = {}
        for variant in getattr(product, "variants", None) or []:
            for name, value in (getattr(variant, "options", None) or {}).items():
                if isinstance(value, str | int | float) and str(value).strip():
                    opts.setdefault(str(name), set()).add(str(value).strip())
        product_options[pid] = {n: {v.lower() for v in vs} for n, vs in opts.items()}
        for name, vals in opts.items():
            option_names.add(name)
            for value in vals:
                entry = values.setdefault(value.lower(), _OptionValue(value))
                entry.names[name] += 1
                entry.products.add(pid)
    for entry in values.values():
        entry.pattern = _value_pattern(entry.value)
    heads: dict[str, list[_Title]] = {}
    for t in titles:
        heads.setdefault(t.words[-1], []).append(t)
    index = _CatalogIndex(titles, values, option_names, product_options, heads)
    _INDEX_CACHE.clear()  # one catalogue per process in practice; keep memory flat
    _INDEX_CACHE[id(catalog)] = (catalog, len(catalog), index)
    return index


def _entity(name: str, value: str, start: int, end: int, **extra: Any) -> dict[str, Any]:
    return {
        "entity": name,
        "value": value,
        "start": start,
        "end": end,
        "extractor": EXTRACTOR,
        **extra,
    }


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in spans)


# --------------------------------------------------------------------------- individual extractors


def find_order_ids(text: str) -> list[dict[str, Any]]:
    """Order ids like ``#W2611340`` (also ``W2611340``, ``w 2611340``), normalised."""
    return [
        _entity("order_id", f"#W{m.group(1)}", m.start(), m.end())
        for m in ORDER_ID_RE.finditer(text)
    ]


def find_emails(text: str) -> list[dict[str, Any]]:
    """Email addresses, lower-cased (the part a customer record is matched on)."""
    return [
        _entity("email", m.group().lower(), m.start(), m.end()) for m in EMAIL_RE.finditer(text)
    ]


def find_zips(text: str, taken: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """US zip codes: 5 digits standing alone, not inside an order id, email or longer number."""
    return [
        _entity("zip", m.group(1), m.start(1), m.end(1))
        for m in ZIP_RE.finditer(text)
        if not _overlaps(m.start(), m.end(), taken)
    ]


def find_person_names(text: str) -> list[dict[str, Any]]:
    """Names introduced as "my name is X Y", "name: X Y", "I'm X Y", "this is X Y".

    Two or three words, any capitalisation; the value is title-cased.
    """
    found: list[dict[str, Any]] = []
    bare = _NAME_AND_ZIP_RE.match(text)
    if bare:
        words = [(bare.group(k), bare.start(k), bare.end(k)) for k in (1, 2, 3) if bare.group(k)]
        while words and words[-1][0].lower() in _AFTER_NAME:
            words.pop()  # "ethan li and my zip is 43135"
        if len(words) >= 2 and not any(w.lower().strip("'’") in _NOT_NAME for w, _, _ in words):
            value = " ".join(w[:1].upper() + w[1:] for w, _, _ in words)
            found.append(_entity("person_name", value, words[0][1], words[-1][2]))
            return found
    for trigger, strong in ((_STRONG_NAME_RE, True), (_WEAK_NAME_RE, False)):
        for t in trigger.finditer(text):
            m = _NAME_RE.match(text, t.end())
            if not m:
                continue
            words = [(m.group(k), m.start(k), m.end(k)) for k in (1, 2, 3) if m.group(k)]
            # Trim trailing words that announce what comes next ("Yusuf Rossi and ...").
            while words and words[-1][0].lower() in _AFTER_NAME:
                words.pop()
            names = [w for w, _, _ in words]
            if len(names) < 2 or any(w.lower().strip("'’") in _NOT_NAME for w in names):
                continue
            if not strong and not _weak_name_ok(text, t.end(), names):
                continue
            start, end = words[0][1], words[-1][2]
            value = " ".join(w[:1].upper() + w[1:] for w in names)
            if not _overlaps(start, end, [(e["start"], e["end"]) for e in found]):
                found.append(_entity("person_name", value, start, end))
    return found


def _weak_name_ok(text: str, start: int, words: list[str]) -> bool:
    """After "I'm"/"this is": the name must end the clause, or be written Capitalised."""
    if all(w[:1].isupper() for w in words) and not text.isupper():
        return True
    # Written in lower case, "this is taking forever" looks like a name to the
    # pattern; the gerund gives it away (names like "Sterling" come capitalised).
    if any(len(w) >= 6 and w.lower().endswith("ing") for w in words):
        return False
    rest = text[start:].split(None, len(words))
    after = rest[len(words)] if len(rest) > len(words) else ""
    nxt = re.match(r"[\w']*", after.lower()).group() if after else ""
    clause_ends = not after or not after[:1].isalnum() or nxt in _AFTER_NAME
    return clause_ends


def find_products(text: str, catalog: list[Any]) -> list[dict[str, Any]]:
    """Catalogue products named in the text, tolerant of plurals, spacing and small typos.

    "hiking boot" -> Hiking Boots, "office chairs" -> Office Chair, "tshirt" ->
    T-Shirt, "espreso machine" -> Espresso Machine. A bare head noun ("chair")
    matches when only one product ends with it (``"partial": True``).
    """
    index = _catalog_index(catalog)
    tokens = _norm_words(text)
    return _pick(tokens, index, _title_candidates(tokens, index))


def _pick(
    tokens: list[tuple[str, int, int]], index: _CatalogIndex, candidates: list[_Candidate]
) -> list[dict[str, Any]]:
    """The products named, from the windows that name a title (``candidates``) plus
    bare head nouns: best and longest first, no overlapping spans or repeated products."""
    candidates = list(candidates)
    for i, (word, _, _) in enumerate(tokens):
        owners = index.heads.get(word, [])
        if len(word) >= 5 and len(owners) == 1 and len(owners[0].words) > 1:
            candidates.append((0.7, i, i + 1, owners[0], True))
    # Best, longest matches first; then drop overlapping spans and repeated products.
    candidates.sort(key=lambda c: (-c[0], -(c[2] - c[1]), c[1]))
    found: list[dict[str, Any]] = []
    used: list[tuple[int, int]] = []
    seen: set[str] = set()
    for score, i, j, title, partial in candidates:
        start, end = tokens[i][1], tokens[j - 1][2]
        if title.product_id in seen or _overlaps(start, end, used):
            continue
        used.append((start, end))
        seen.add(title.product_id)
        extra: dict[str, Any] = {"product_id": title.product_id, "confidence": round(score, 3)}
        if partial:
            extra["partial"] = True
        found.append(_entity("product", title.title, start, end, **extra))
    return sorted(found, key=lambda e: e["start"])


_Candidate = tuple[float, int, int, _Title, bool]  # score, start token, end token, title, partial


def _title_candidates(tokens: list[tuple[str, int, int]], index: _CatalogIndex) -> list[_Candidate]:
    """Every window of ``tokens`` that names a title, with its ``_similarity`` score.

    A title of n words is compared with windows of n - 1, n and n + 1 tokens
    ("t shirt" vs "tshirt" vs "t-shirt"). Listed title by title, then by window
    size and position: the caller's sort is stable, so this order breaks its ties.
    """
    if not tokens or not index.titles:
        return []
    longest = max(len(t.words) for t in index.titles) + 1
    windows: list[tuple[int, int]] = []  # (start token, size)
    joined: list[str] = []
    for size in range(1, min(longest, len(tokens)) + 1):
        for i in range(len(tokens) - size + 1):
            windows.append((i, size))
            joined.append("".join(w for w, _, _ in tokens[i : i + size]))
    # One call scores every window against every title. _similarity accepts only
    # exact matches (ratio 100) and ratios of at least 86, so below 86 it is 0 and
    # only the few pairs at or above it need its length and first-letter checks.
    ratios = process.cdist(
        joined, [t.joined for t in index.titles], scorer=fuzz.ratio, score_cutoff=86.0
    )
    found: list[tuple[tuple[int, int, int], _Candidate]] = []
    for w, t in zip(*np.nonzero(ratios), strict=True):
        title, (i, size) = index.titles[int(t)], windows[int(w)]
        n = len(title.words)
        sizes = list({n, n - 1, n + 1} - {0})  # the order the per-title loop used
        if size not in sizes:
            continue
        score = _similarity(joined[int(w)], title.joined)
        if score:
            found.append(((int(t), sizes.index(size), i), (score, i, i + size, title, False)))
    found.sort(key=lambda f: f[0])
    return [c for _, c in found]


def _similarity(candidate: str, title: str) -> float:
    """1.0 for an exact match, the ratio for a near one, 0 when too different.

    Short titles must match exactly: "grill" is one letter from "drill", and
    typos are only recoverable when there are enough letters to recognise.
    """
    if candidate == title:
        return 1.0
    if len(title) < 6 or abs(len(candidate) - len(title)) > 2 or candidate[:1] != title[:1]:
        return 0.0
    # rapidfuzz's ratio is 2*LCS/(len a + len b) (the Indel similarity); difflib's
    # was 2*M/T with M from greedy matching blocks, never above the LCS, so a
    # near match scores the same or a little higher. score_cutoff returns 0 below.
    needed = 0.86 if len(title) < 10 else 0.88
    ratio = fuzz.ratio(candidate, title, score_cutoff=needed * 100) / 100
    return round(ratio, 3)


def find_options(
    text: str, catalog: list[Any], products: list[dict[str, Any]], taken: list[tuple[int, int]]
) -> list[dict[str, Any]]:
    """Variant option values (``color``, ``size``, ...), entity name = option name.

    When the message names products, only their options count, so "black" in
    "black t-shirt" is a ``color`` and not a ``lens color``. Otherwise a value
    shared by several options goes to the option most products use.
    """
    index = _catalog_index(catalog)
    mentioned = [p["product_id"] for p in products]
    scoped: dict[str, set[str]] = {}  # option -> lower values allowed in this message
    for pid in mentioned:
        for name, vals in index.product_options.get(pid, {}).items():
            scoped.setdefault(name, set()).update(vals)
    lower = text.lower()
    found: list[dict[str, Any]] = []
    used = list(taken)
    # Longest values first, so "rose gold" wins over "gold", "wi-fi + cellular" over "wi-fi".
    for key in sorted(index.values, key=lambda v: (-len(v), v)):
        entry = index.values[key]
        assert entry.pattern is not None
        for m in entry.pattern.finditer(text):
            start, end = m.start(), m.end()
            if _overlaps(start, end, used):
                continue
            names = _option_names(entry, key, scoped, lower, start, text[start:end])
            if not names:
                continue
            used.append((start, end))
            for name in names:
                found.append(_entity(name, entry.value, start, end))
    return sorted(found, key=lambda e: (e["start"], e["entity"]))


def _option_names(
    entry: _OptionValue, key: str, scoped: dict[str, set[str]], lower: str, start: int, surface: str
) -> list[str]:
    """Which option name(s) a matched value stands for here; [] to ignore the match."""
    before = lower[max(0, start - 25) : start]
    named = [n for n in entry.names if re.search(rf"\b{re.escape(n.lower())}\s*[:=]?\s*$", before)]
    if named:  # "size 10", "color: blue"
        return named[:1]
    in_scope = sorted(n for n, vals in scoped.items() if key in vals)
    if in_scope:
        return in_scope
    # A value the mentioned product does not have ("rose gold smart watch") still
    # counts, so the action can say it is not available; fall through to the rules.
    # No product in the message: be strict with values that are ordinary words or numbers.
    if key in _GENERIC_VALUES or key.replace(".", "").isdigit():
        return []
    if len(key) <= 2 and not key.isdigit():
        # Sizes "S", "M", "L", "XL" only as written in capitals ("I'm" must not be size M).
        if surface != entry.value or "'" in lower[max(0, start - 1) : start + 1]:
            return []
    return [entry.names.most_common(1)[0][0]]


# --------------------------------------------------------------------------- all together


def extract_entities(text: str, catalog: list[Any] | None = None) -> list[dict[str, Any]]:
    """All entities in ``text``, sorted by position.

    Each is ``{"entity", "value", "start", "end", "extractor": "shopbot"}``;
    products add ``product_id`` and ``confidence`` (and ``partial`` for a bare
    head noun). Order ids, emails and zips never overlap each other.
    """
    catalog = list(catalog or []) if not isinstance(catalog, list) else catalog
    orders = find_order_ids(text)
    emails = find_emails(text)
    taken = [(e["start"], e["end"]) for e in orders + emails]
    zips = find_zips(text, taken)
    taken += [(e["start"], e["end"]) for e in zips]
    names = [e for e in find_person_names(text) if not _overlaps(e["start"], e["end"], taken)]
    entities = orders + emails + zips + names
    if catalog:
        products = [
            e for e in find_products(text, catalog) if not _overlaps(e["start"], e["end"], taken)
        ]
        taken += [(e["start"], e["end"]) for e in products + names]
        entities += products + find_options(text, catalog, products, taken)
    return sorted(entities, key=lambda e: (e["start"], e["entity"]))
