"""Grounded, streamed knowledge answers.

:class:`KnowledgeAnswerer` asks the chat model to answer from retrieved
passages and streams the reply one *checked* sentence at a time: a sentence
is only shown after its numbers, email addresses, order ids and links were
found in the passages. When a sentence fails, generation is stopped and the
text shown so far is withdrawn in favour of the extractive answer (the best
passage, quoted). A last check looks at the whole reply (empty, off-topic,
leaked instructions).

Events, in order::

    {"type": "token", "text": "..."}            zero or more, already checked
    {"type": "replace", "text": "..."}          at most one: show this instead
    {"type": "final", "text", "grounded", "fallback", "ungrounded", ...}

In the final event ``text`` is what the customer ends up seeing (always
safe to show); ``fallback`` says it is the extractive answer; ``grounded``
says the *model's* reply passed the checks (False together with
``fallback`` means the model was caught inventing something);
``ungrounded`` lists the invented numbers, ``problems`` all reasons,
``model_text`` the model's reply as far as it got (for logs and fine-tuning),
and ``unsure`` says the answer admits not knowing (a cue to offer a handoff).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from bot.generation import Generator, stream_in_thread
from bot.grounding import (
    MAX_PASSAGES,
    build_messages,
    extractive_answer,
    hit_source_text,
    is_supported,
    is_unsure,
    lexical_overlap,
    split_sentences,
    ungrounded_numbers,
    unsupported_identifiers,
)

log = logging.getLogger(__name__)


class KnowledgeAnswerer:
    """Answers knowledge questions from retrieved hits with a :class:`Generator`."""

    def __init__(
        self, generator: Generator, max_new_tokens: int = 160, temperature: float = 0.0
    ) -> None:
        self.generator = generator
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature

    async def stream(
        self,
        question: str,
        hits: Sequence[Any],
        history: Sequence[dict[str, str]] | None,
        settings: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield token / replace / final events for a grounded answer; never raises."""
        hits = list(hits)
        sources = [hit_source_text(h) for h in hits[:MAX_PASSAGES]]
        extractive = extractive_answer(hits)
        final: dict[str, Any] = {
            "type": "final",
            "text": extractive,
            "grounded": True,
            "fallback": True,
            "ungrounded": [],
            "problems": [],
            "model_text": "",
            "generator": self.generator.name,
            "unsure": not hits,
        }
        # No model, or nothing to ground an answer in: quote (or say "not sure").
        if self.generator.name == "none" or not hits:
            yield {"type": "token", "text": extractive}
            yield final
            return

        messages = build_messages(question, hits, history, settings)
        context = f"{question}\n{getattr(settings, 'name', '')}"
        pieces = stream_in_thread(
            self.generator, messages, self.max_new_tokens, self.temperature, "shopbot-answer"
        )
        shown = ""  # checked text already sent as tokens
        model_text = ""
        buffer = ""
        problems: list[str] = []
        error: BaseException | None = None
        try:
            async for item in pieces:
                model_text += item
                buffer += item
                sentences, buffer = split_sentences(buffer, complete_only=True)
                for sentence in sentences:
                    problems = _sentence_problems(sentence, sources, context)
                    if problems:
                        break
                    shown += sentence
                    yield {"type": "token", "text": sentence}
                if problems:
                    break
            if not problems and buffer.strip():
                # The model stopped mid-sentence (or without final punctuation).
                problems = _sentence_problems(buffer, sources, context)
                if not problems:
                    shown += buffer
                    yield {"type": "token", "text": buffer}
        except Exception as exc:  # raised by the model: answer extractively
            # (a cancelled turn or a consumer that went away is a BaseException
            # only, and propagates)
            error = exc
        finally:
            # Also reached when our consumer goes away (client disconnected).
            await pieces.aclose()

        final["model_text"] = model_text
        if error is not None:
            log.warning(
                "generator %s failed, answering extractively: %s", self.generator.name, error
            )
            final["problems"] = [f"generator failed: {type(error).__name__}: {error}"]
        elif not problems:
            ok, problems = is_supported(shown, sources, context=context)
            if ok:
                final.update(text=shown.strip(), fallback=False, unsure=is_unsure(shown))
                yield final
                return
        if error is None:
            final.update(
                grounded=False,
                problems=problems,
                ungrounded=ungrounded_numbers(model_text, sources),
            )
            log.info("model reply rejected (%s); answering extractively", "; ".join(problems))
        yield {"type": "replace", "text": extractive}
        yield final

    async def answer(
        self,
        question: str,
        hits: Sequence[Any],
        history: Sequence[dict[str, str]] | None,
        settings: Any,
    ) -> dict[str, Any]:
        """The final event of :meth:`stream` (for callers that do not stream)."""
        final: dict[str, Any] = {}
        async for event in self.stream(question, hits, history, settings):
            if event["type"] == "final":
                final = event
        return final


# A long sentence with less than this share of its words in the sources is
# about something else (small models drift into generic advice); stopping it
# early beats streaming a paragraph and withdrawing it. Deliberately lower than
# the whole-reply threshold, since single sentences paraphrase more freely.
SENTENCE_MIN_OVERLAP = 0.25


def _sentence_problems(sentence: str, sources: Sequence[str], context: str) -> list[str]:
    """Why a sentence may not be shown: invented numbers or identifiers, or off-topic."""
    problems = [f"number not in sources: {n}" for n in ungrounded_numbers(sentence, sources)]
    problems += unsupported_identifiers(sentence, sources)
    overlap = lexical_overlap(sentence, sources, context, min_words=6)
    if overlap is not None and overlap < SENTENCE_MIN_OVERLAP:
        problems.append(f"sentence mostly not from the sources ({overlap:.0%} of its words)")
    return problems
