"""Whether one sentence of a product description is supported by the product's record.

The answer checks (bot/answers/checks.py) let a reply paraphrase its sources;
a description written into the catalogue must not, so every check here is
strict, and a sentence with any problem is dropped with its reasons:

- **numbers**: every number (price, size, count, "two years") is in the record,
  compared after the answers' normalisation (bot/answers/numbers.py: "$49.00" is
  "49", "two weeks" is "14 days"); Chinese numerals are read as digits first;
- **measures**: a number with a unit ("2-year", "500ml") is one the record states,
  in any unit (1L is 1000ml; a 2-year warranty is not grounded by "2 colours");
- **identifiers**: email addresses, links, phone numbers (the answers' check);
- **codes**: model-number-like tokens (IPX7, 8GB, i7, 1080p) as the record writes them;
- **claims**: a material, colour, size, compatibility, warranty, certification or
  quality claim, shipping or origin term (bot/merchant/lexicon.py) only if the
  record states it;
- **words**: every content word is the record's (crudely stemmed, "resistant" for
  "resistance") or a neutral descriptive word; for Chinese, what is left after the
  record's phrases and the neutral phrases are taken out must be empty (so the
  check does not depend on how a segmenter cuts an unknown word);
- **attribution**: a value named as another key's ("64GB of RAM" when 64GB is a storage);
- **prices**: a variant's price beside option values belongs to a variant with one of them;
- **counts**: "4 colours", "8 variants", "6 of them are available" are the record's counts;
- **choices**: values the variants choose between read as a choice ("comes in black or
  red"), not as one product's parts ("features a timer and a grinder");
- **stock**: "in stock" for a sold-out product (or "sold out" for one in stock);
- **language**, and a sentence that rests on no fact at all is filler.

A kept sentence carries what it rests on: the record fields whose values it states.
This is a vocabulary check, not entailment: a sentence made only of the record's
words can still combine them wrongly (a colour with a size no variant has).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.answers.checks import unsupported_identifiers
from bot.answers.numbers import numbers_in, ungrounded_numbers
from bot.answers.text import content_words, stem, words_of
from bot.merchant.facts import KEY_LABELS_ZH, Record
from bot.merchant.lexicon import (
    CLAIMS,
    CLAIMS_ZH,
    FUNCTION_CHARS_ZH,
    NEUTRAL,
    NEUTRAL_ZH,
    NUMBER_WORDS,
    UNITS,
)
from knowledge_base import chinese

_SPELLING = {"grey": "gray", "colour": "color", "colours": "colors", "aluminium": "aluminum"}
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# A token mixing letters and digits in one piece: a model number, a capacity, a code.
_CODE_RE = re.compile(r"(?<![a-z0-9_])(?=[a-z]*\d)(?=\d*[a-z])[a-z0-9]+(?![a-z0-9_])")
_IN_STOCK = re.compile(r"(?<!not )\bin stock\b|\bavailable now\b|\bready to ship\b")
_OUT_OF_STOCK = re.compile(r"\bout of stock\b|\bsold out\b|\bnot (?:in stock|available)\b")
_IN_STOCK_ZH = re.compile(r"(?<!没)(?<!无)有货|现货|库存充足")
_OUT_OF_STOCK_ZH = re.compile(r"缺货|售罄|无货|没货|已售完|暂无库存")
_ZH_NUMERAL = re.compile(r"([一二两三四五六七八九十]+)(?=[种款色项类套层档样])")
_ZH_ARTICLE = re.compile(r"(?<![一二两三四五六七八九十百\d])[一1](?=[款个件种只])")
_ZH_DIGITS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_MEASURE_RE = re.compile(
    r"(?<![a-z0-9.])(\d+(?:\.\d+)?|"
    + "|".join(NUMBER_WORDS)
    + r")(\s?-?\s?)("
    + "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
    + r")(?![a-z])"
)
_RANGE_START = re.compile(r"(\d+(?:\.\d+)?)\s?(?:-|–|to)\s?$")
_N = r"(\d+|" + "|".join(NUMBER_WORDS) + r")"
# "10 of them are available", "8 variants available", "6 available variants", "6个有货".
_AVAILABLE_COUNT = [
    re.compile(rf"(?<![\w.$]){_N} (?:of (?:them|which|these) )?(?:are |is )?"
               r"(?:currently |now |right now )?(?:available|in stock)\b"),
    re.compile(rf"(?<![\w.$]){_N} (?:variants|versions|options) (?:are |is )?"
               r"(?:currently |now )?(?:available|in stock)\b"),
    re.compile(rf"(?<![\w.$]){_N} (?:available|in stock) (?:variants|versions|options)\b"),
]  # fmt: skip
_AVAILABLE_COUNT_ZH = re.compile(r"(\d+)(?:个|款|种)(?:款式|规格)?(?:有货|有现货|在售)")
# Words that make a list of option values read as a choice, not as one product's parts.
_CHOICE = re.compile(
    r"\b(?:or|choose|choice|choices|option|options|comes? in|available in|variants?|"
    r"versions?|depending|select|pick|range|ranging|from|either|whichever)\b"
)
_CHOICE_ZH = re.compile(r"或|可选|任选|选择|款式|规格|不同|之间|至")
MIN_WORDS = 3  # an English sentence shorter than this is a heading or a fragment
MIN_CHARS_ZH = 4
MIN_PREFIX = 6  # "resistant" rests on "resistance": a shared start this long


@dataclass
class SentenceCheck:
    """One sentence, where it came from ("model" or "template"), why it was dropped
    (``reasons``, empty when kept) and what it rests on (``{"field", "value"}`` pairs)."""

    text: str
    source: str = "model"
    reasons: list[str] = field(default_factory=list)
    rests_on: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.reasons

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "source": self.source,
            "reasons": self.reasons,
            "rests_on": self.rests_on,
        }


def _plain(text: str) -> str:
    """Lower case, hyphens and slashes as spaces, one spelling of grey/colour."""
    text = re.sub(r"[-/_]", " ", text.lower())
    return re.sub(r"[a-z]+", lambda m: _SPELLING.get(m.group(0), m.group(0)), text)


def _mentions(text: str, phrase: str) -> bool:
    """Whether plain ``text`` contains plain ``phrase`` as whole words."""
    if not phrase.strip():
        return False
    pattern = r"(?<![a-z0-9'])" + re.escape(phrase.strip()) + r"(?![a-z0-9'])"
    return re.search(pattern, text) is not None


def _zh_numbers(text: str) -> str:
    """Chinese numerals before a measure word as digits ("四种颜色" -> "4种颜色"); a lone
    "一" there is an article ("一款时尚的包": "a bag"), not a count, and is dropped."""
    text = _ZH_ARTICLE.sub("", text)

    def digits(m: re.Match[str]) -> str:
        total, digit = 0, 0
        for ch in m.group(1):
            if ch == "十":
                total += (digit or 1) * 10
                digit = 0
            else:
                digit = _ZH_DIGITS[ch]
        return str(total + digit)

    return _ZH_NUMERAL.sub(digits, text)


def measures(text: str) -> list[tuple[tuple[str, float], str, tuple[int, int]]]:
    """The measures ``text`` states ("2-year", "500ml", "1.5 liters"): each as its kind and
    value (in hours, millilitres, grams ...), how it was written and where."""
    text = text.lower()
    out = []
    for m in _MEASURE_RE.finditer(text):
        raw, sep, unit = m.groups()
        if len(unit) == 1 and unit.isascii() and unit.isalpha() and sep:
            continue  # "10 m" is a size letter more often than metres: only "10m" counts
        kind, factor = UNITS[unit]
        values = [float(raw) if raw[0].isdigit() else float(NUMBER_WORDS[raw])]
        start = _RANGE_START.search(text[: m.start()])
        if start:  # "5-25 lbs": both ends are measures in pounds
            values.append(float(start.group(1)))
        for value in values:
            out.append(((kind, round(value * factor, 6)), m.group(0).strip(), m.span()))
    return out


def _codes(text: str) -> set[str]:
    return set(_CODE_RE.findall(re.sub(r"(?<=\d),(?=\d{3})", "", text.lower())))


class ClaimChecker:
    """The checks of one product record, its vocabulary computed once."""

    def __init__(self, record: Record) -> None:
        self.record = record
        self.zh = record.language == "zh"
        self.evidence = record.evidence()
        without = [f.text() for f in record.facts if f.field != "description"]
        self.text = _plain("\n".join(self.evidence))
        # Stems and the words as written: a stem alone may miss a word the record spells out.
        self.vocabulary = {f(w) for w in words_of(self.text) for f in (stem, str)}
        self.own_vocabulary = {
            f(w) for w in words_of(_plain("\n".join(without))) for f in (stem, str)
        }
        self.neutral = {stem(w) for w in NEUTRAL}
        self.codes = _codes("\n".join(self.evidence))
        self.measures = {key for key, _, _ in measures("\n".join(self.evidence))}
        self.zh_evidence = [_zh_numbers(chinese.normalise(e)) for e in self.evidence]
        self.zh_text = "\n".join(self.zh_evidence)
        self.cjk = set(_CJK_RUN.findall(self.text))
        self.labels: dict[str, str] = {}  # a plain way to name a key -> its field
        for key in record.options:
            where = (
                "attributes." if key in record.product.attributes else "variants.options."
            ) + key
            self.labels.setdefault(_plain(key), where)
            zh_label = KEY_LABELS_ZH.get(key.lower())
            if zh_label:
                self.labels.setdefault(zh_label, where)
        if self.zh:
            phrases = {chinese.normalise(p) for p in self._phrases()}
            phrases |= {w for w in chinese.words(self.zh_text) if len(w) >= 2}
            phrases |= {chinese.normalise(p) for p in NEUTRAL_ZH}
            self.zh_phrases = sorted((p for p in phrases if p.strip()), key=len, reverse=True)

    def _phrases(self) -> list[str]:
        out = [f.value for f in self.record.facts] + list(self.labels)
        out += [self.record.label(k) for k in self.record.options]
        return out

    # ----------------------------------------------------------------- the check

    def check(self, sentence: str, source: str = "model") -> SentenceCheck:
        """Every check on ``sentence``; the result says why it is dropped, or what it rests on."""
        text = sentence.strip()
        result = SentenceCheck(text, source)
        reasons = result.reasons
        if self.zh:
            norm = _zh_numbers(chinese.normalise(text))
            chinese_chars = sum(map(len, _CJK_RUN.findall(norm)))
            if chinese_chars < 2:
                reasons.append("not written in Chinese")
            elif chinese_chars + len(re.findall(r"[a-z0-9]+", norm)) < MIN_CHARS_ZH:
                reasons.append("too short to be a sentence")
        else:
            norm = text
            if len(text.split()) < MIN_WORDS:
                reasons.append("too short to be a sentence")
            if any(run not in self.cjk for run in _CJK_RUN.findall(text)):
                reasons.append("not written in English")
        # A measure the record states in other units ("1L" for "1000ml") is grounded as a
        # whole: its number and its code are not judged again on their own.
        unjudged = norm
        for key, written, (start, end) in measures(norm):
            if key in self.measures:
                unjudged = unjudged[:start] + " " * (end - start) + unjudged[end:]
            else:
                reasons.append(f"measure not in the record: {written}")
        numbers = ungrounded_numbers(unjudged, self.zh_evidence if self.zh else self.evidence)
        reasons.extend(f"number not in the record: {n}" for n in numbers)
        reasons.extend(p.replace("in sources", "in the record") for p in
                       unsupported_identifiers(text, self.evidence))  # fmt: skip
        for code in sorted(_codes(unjudged) - self.codes):
            reasons.append(f"code or model number not in the record: {code}")
        plain = _plain(norm)
        claimed = self._claims(plain, norm, reasons)
        self._words(plain, claimed, reasons)
        self._attribution(plain, reasons)
        if self.zh:
            self._residue(norm, reasons)
        self._prices(plain, norm, reasons)
        self._counts(plain, norm, reasons)
        self._alternatives(plain, norm, reasons)
        self._stock(plain, norm, reasons)
        reasons[:] = list(dict.fromkeys(reasons))  # two patterns may find the same problem
        result.rests_on = self._support(plain, norm)
        if not result.rests_on and not reasons:
            reasons.append("states nothing from the record")
        return result

    def _claims(self, plain: str, norm: str, reasons: list[str]) -> set[str]:
        """Claim terms the record does not state; returns the words already reported."""
        reported: set[str] = set()
        for kind, terms in CLAIMS.items():
            for term in terms:
                phrase = _plain(term)
                if not _mentions(plain, phrase) or self._states(phrase):
                    continue
                reasons.append(f"{kind} not in the record: {term}")
                reported |= {stem(w) for w in words_of(phrase)}
        if self.zh:
            for kind, terms in CLAIMS_ZH.items():
                for term in terms:
                    if term in norm and term not in self.zh_text:
                        reasons.append(f"{kind} not in the record: {term}")
        return reported

    def _states(self, phrase: str) -> bool:
        """Whether the record states a (plain) claim phrase: as written, or word by word."""
        if _mentions(self.text, phrase):
            return True
        words = words_of(phrase)
        return bool(words) and all(self._known(stem(w), neutral=False) for w in words)

    def _known(self, word: str, neutral: bool = True) -> bool:
        if word in self.vocabulary or (neutral and word in self.neutral):
            return True
        for known in self.vocabulary:
            shared = len(_common_prefix(word, known))
            if shared >= max(MIN_PREFIX, min(len(word), len(known)) - 3):
                return True
        return False

    def _words(self, plain: str, claimed: set[str], reasons: list[str]) -> None:
        unknown = []
        for word in words_of(plain):
            stemmed = content_words(word)  # [] for stop words and service boilerplate
            if not stemmed or stemmed[0] in claimed or word in NUMBER_WORDS:
                continue
            forms = {stemmed[0], word, word.removesuffix("s"), word.removesuffix("es")}
            if not any(self._known(form) for form in forms):
                unknown.append(word)
        if unknown:
            shown = ", ".join(dict.fromkeys(unknown))
            reasons.append(f"words the record does not support: {shown}")

    def _attribution(self, plain: str, reasons: list[str]) -> None:
        """A value named as another key's ("64GB of RAM" when 64GB is a storage size)."""
        owners: dict[str, set[str]] = {}
        for key, values in self.record.options.items():
            for value in values:
                owners.setdefault(_plain(value), set()).add(_plain(key))
        values_of = {_plain(k): [_plain(v) for v in vs] for k, vs in self.record.options.items()}
        for value, own in owners.items():
            for key in set(values_of) - own:
                if any(_mentions(other, value) for other in values_of[key]):
                    continue  # "walnut" is a colour, and part of the material "solid walnut"
                v, k = re.escape(value), re.escape(key)
                near = (
                    rf"(?<![a-z0-9]){v}\s+(?:of\s+)?{k}(?![a-z0-9])"
                    rf"|(?<![a-z0-9]){k}(?:\s+(?:of|is)\s+|\s*:\s*|\s+){v}(?![a-z0-9])"
                )
                if re.search(near, plain):
                    reasons.append(f"{value} is a {' / '.join(sorted(own))}, not a {key}")

    def _residue(self, norm: str, reasons: list[str]) -> None:
        """Chinese left over once the record's and the neutral phrases are taken out."""
        rest = norm
        for phrase in self.zh_phrases:
            rest = rest.replace(phrase, " ")
        rest = "".join(" " if ch in FUNCTION_CHARS_ZH else ch for ch in rest)
        left = [run for run in _CJK_RUN.findall(rest)]
        if left:
            reasons.append(f"words the record does not support: {'、'.join(dict.fromkeys(left))}")

    def _prices(self, plain: str, norm: str, reasons: list[str]) -> None:
        """A variant's price next to option values must be one of those variants' prices."""
        product = self.record.product
        said = numbers_in(norm)
        named = self._named(plain, norm)
        if not named:
            return
        lo, hi = product.price_range()
        bounds = {n for amount in (lo, hi) if amount is not None
                  for n in numbers_in(self.record.money(amount))}  # fmt: skip
        by_price: dict[str, list[Any]] = {}
        for v in product.variants:
            if v.price is not None and v.price != product.price:
                for n in numbers_in(self.record.money(v.price)):
                    by_price.setdefault(n, []).append(v)
        # "$186.78 to $219.43, small to large": a range's ends belong to no one variant.
        judged = said - bounds if bounds <= said else said
        for n in sorted(judged & set(by_price)):
            if not any(set(v.options.values()) & named for v in by_price[n]):
                reasons.append(
                    f"price {n} is not the price of a variant with {', '.join(sorted(named))}"
                )

    def _counts(self, plain: str, norm: str, reasons: list[str]) -> None:
        """ "4 colors", "8 variants", "10 of them are available": counts must be the record's."""
        product = self.record.product
        wanted: dict[str, int] = {}
        if product.variants:
            wanted["variant"] = len(product.variants)
            wanted["version"] = len(product.variants)
        for key, values in self.record.options.items():
            wanted.setdefault(_plain(key), len(values))
        number = r"(\d+|" + "|".join(NUMBER_WORDS) + r")"
        for what, count in wanted.items():
            pattern = rf"(?<![\w.$]){number} (?:different |available )?{re.escape(what)}(?:e?s)?\b"
            for m in re.finditer(pattern, plain):
                said = _count_value(m.group(1))
                if said != count:
                    reasons.append(f"says {said} {what}s; the record has {count}")
        if not product.variants:
            return
        available = sum(v.available for v in product.variants)
        patterns = [_AVAILABLE_COUNT_ZH] if self.zh else _AVAILABLE_COUNT
        for pattern in patterns:
            for m in pattern.finditer(norm if self.zh else plain):
                said = _count_value(m.group(1))
                if said != available:
                    reasons.append(
                        f"says {said} available; the record has {available} of "
                        f"{len(product.variants)} variants available"
                    )

    def _alternatives(self, plain: str, norm: str, reasons: list[str]) -> None:
        """Several values of a key the variants choose between ("features a timer and a
        grinder" when each variant has one) must read as a choice ("comes in", "or")."""
        if _CHOICE_ZH.search(norm) if self.zh else _CHOICE.search(plain):
            return
        varying: dict[str, set[str]] = {}
        for v in self.record.product.variants:
            for key, value in v.options.items():
                varying.setdefault(key, set()).add(value)
        for key, values in varying.items():
            said = [value for value in values if self._says(plain, norm, value)]
            if len(values) > 1 and len(said) > 1:
                reasons.append(
                    f"states {', '.join(sorted(said))} together; each variant has one {key}"
                )

    def _named(self, plain: str, norm: str) -> set[str]:
        """The option values (colours, sizes ...) the sentence names."""
        return {
            value
            for values in self.record.options.values()
            for value in values
            if self._says(plain, norm, value)
        }

    def _says(self, plain: str, norm: str, value: str) -> bool:
        if self.zh and chinese.has_chinese(value):
            return chinese.normalise(value) in norm
        return _mentions(plain, _plain(value))

    def _stock(self, plain: str, norm: str, reasons: list[str]) -> None:
        """ "In stock" must be true of the product; "sold out" of it, or of the variants named."""
        product = self.record.product
        says_in = _IN_STOCK.search(plain) or (self.zh and _IN_STOCK_ZH.search(plain))
        says_out = _OUT_OF_STOCK.search(plain) or (self.zh and _OUT_OF_STOCK_ZH.search(plain))
        if says_in and not says_out and not product.in_stock:
            reasons.append("says in stock; the record says out of stock")
        if says_out and not says_in and product.in_stock:
            named = self._named(plain, norm)
            sold_out = [v for v in product.variants if not v.available]
            if not any(set(v.options.values()) & named for v in sold_out):
                reasons.append("says out of stock; the record says in stock")

    def _support(self, plain: str, norm: str) -> list[dict[str, str]]:
        """The record fields whose values the sentence states."""
        said = numbers_in(norm)
        out: list[dict[str, str]] = []
        for f in self.record.facts:
            if f.field == "description":
                continue
            if f.field == "in_stock":
                hit = (_IN_STOCK_ZH if self.zh else _IN_STOCK).search(plain) is not None
                if not self.record.product.in_stock:
                    hit = (_OUT_OF_STOCK_ZH if self.zh else _OUT_OF_STOCK).search(plain) is not None
            elif f.field.startswith(("price", "variants.price")) or f.label.startswith(
                ("number of", "variants")
            ):
                wanted = numbers_in(f.value)
                hit = bool(wanted) and wanted <= said
            else:
                hit = self._says(plain, norm, f.value)
            if hit:
                out.append({"field": f.field, "value": f.value})
        for label, where in self.labels.items():
            if (label in norm) if chinese.has_chinese(label) else _mentions(plain, label):
                out.append({"field": where, "value": label})
        described = {w for w in content_words(plain) if w in self.vocabulary}
        if described - self.own_vocabulary - self.neutral:
            out.append({"field": "description", "value": "the current description"})
        unique = {(d["field"], d["value"]): d for d in out}
        return list(unique.values())


def _count_value(token: str) -> int:
    return int(token) if token.isdigit() else NUMBER_WORDS[token]


def _common_prefix(a: str, b: str) -> str:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return a[:n]
