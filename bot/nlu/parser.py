"""NLU: one message in, a Rasa-style parse out (intent, ranking, entities).

``NLU.parse`` only *reports*; it never rewrites the classifier's intent from the
entities. In particular, a message that is little more than an order id
("#W2611340") often gets a weak or ``oos`` intent: that intent is kept as is,
and the dialogue policy (``bot/turn/pipeline.py``) decides what an order id on its
own means in the conversation (usually: the answer to "which order?").
Keeping the two apart makes each easy to test and the policy the one place
where context is used.

A button payload in Rasa's convention (``/intent{"entity": "value"}``) is read by
bot/nlu/payloads.py instead of the model: that intent at confidence 1.0 and the
payload's checked entities.

A message in another language than the store's (Chinese on an English store: its
script says so, ``bot.nlu.language.script_language``) is first read by the small
model of that language the build trained beside the store's
(``bot.nlu.intent_model.LanguageIntentModel``): when that names a request whose
meaning does not depend on the store's knowledge (cancel, return, order status, a
person, small talk, yes/no), its ranking is the parse; otherwise the store's model
reads the message as ever. An English message never reaches a language model.
"""

from __future__ import annotations

from typing import Any

from bot.nlu.entities import extract_entities
from bot.nlu.language import script_language
from bot.nlu.payloads import BUTTON_INTENTS, parse_payload

OOS = "oos"
# What a language model may decide for a message in its language: requests and small
# talk that mean the same in every store. Questions about the store (its products,
# delivery, payment, policies) stay with the store's own model and index.
LANGUAGE_MODEL_INTENTS = frozenset(
    {
        "cancel_order", "return_order", "get_refund", "track_order", "track_refund",
        "contact_human_agent", "greet", "thanks", "affirm", "deny", "goodbye",
    }
)  # fmt: skip


class NLU:
    """Intent classifier + entity extractor behind one ``parse`` call."""

    def __init__(self, classifier: Any, catalog: list[Any] | None = None) -> None:
        """``classifier``: a ``training.intents.IntentClassifier`` (anything with
        ``predict(texts) -> [[(intent, confidence), ...]]``); ``catalog``: the
        store's products, for product and variant-option entities."""
        self.classifier = classifier
        self.catalog = list(catalog or [])
        # What a payload may name: the model's intents and shopbot's own buttons'.
        self.intents = frozenset(getattr(classifier, "intents", None) or ()) | BUTTON_INTENTS
        # Models for messages in other languages than the store's, by language code.
        self.languages: dict[str, Any] = dict(getattr(classifier, "languages", None) or {})

    def parse(self, text: str) -> dict[str, Any]:
        """``{"text", "intent": {"name", "confidence"}, "intent_ranking": [...], "entities": [...]}``.

        Out of scope is intent ``oos``. An empty message is ``oos`` with
        confidence 1.0 and no entities, without calling the model. A button payload
        naming a known intent (``/track_order{"order_id": "#W2611340"}``) is that intent
        at confidence 1.0 with the payload's entities (bot/nlu/payloads.py), also
        without the model.
        """
        text = text if isinstance(text, str) else str(text)
        payload = parse_payload(text, self.intents, self.catalog)
        if payload is not None:
            return payload
        if not text.strip():
            ranking = [(OOS, 1.0)]
            entities: list[dict[str, Any]] = []
        else:
            ranking = self.rank(text)
            entities = extract_entities(text, self.catalog)
        name, confidence = ranking[0]
        return {
            "text": text,
            "intent": {"name": name, "confidence": round(float(confidence), 4)},
            "intent_ranking": [{"name": n, "confidence": round(float(c), 4)} for n, c in ranking],
            "entities": entities,
        }

    def rank(self, text: str) -> list[tuple[str, float]]:
        """The message's (intent, confidence) ranking, best first: its language's model's
        when that names one of ``LANGUAGE_MODEL_INTENTS``, else the store's model's."""
        model = self.languages.get(script_language(text)) if self.languages else None
        if model is not None:
            theirs = model.predict([text])[0]
            if theirs and theirs[0][0] in LANGUAGE_MODEL_INTENTS:
                return theirs
        return self.classifier.predict([text])[0] or [(OOS, 1.0)]
