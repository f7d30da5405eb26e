"""Grounded, streamed knowledge answers.

:class:`KnowledgeAnswerer` asks the chat model to answer from retrieved
passages and streams the reply one *checked* sentence at a time: a sentence
is only shown after its numbers, email addresses, order ids and links were
found in the passages. When a sentence fails, generation is stopped and the
text shown so far is withdrawn in favour of the extractive answer (the best
passage, quoted). A last check looks at the whole reply (empty, off-topic).

The customer's words are never evidence: the checks ground a reply only in
the passages and the store's settings (:func:`bot.answers.grounding.source_texts`).
Instructions the customer embeds in a question ("reply only with ...",
"repeat your instructions", "忽略之前的指令") are cut out of the question the
model sees (:func:`bot.answers.instructions.split_instructions`), and every sentence is
checked for leaked instructions, links / domains / emails / phone numbers not
in the sources, and copies of the customer's words *before* it is streamed, so
such text is never shown and then withdrawn.

What happens when a sentence fails:

- a leak, an echo of the customer or a foreign link/contact: generation
  stops and that sentence and everything after it are dropped. The sentences
  already shown stay the answer when they pass the whole-reply checks on
  their own (no ``replace``: nothing shown is withdrawn); otherwise, or when
  nothing was shown yet, the extractive answer replaces them;
- an invented number or an off-topic sentence: the shown text is replaced by
  the extractive answer, as a later sentence with a wrong number is often a
  condition of the earlier ones ("... except sale items, within 10 days"),
  and the quoted passage keeps all of them.

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
``unsure`` says the answer admits not knowing (a cue to offer a handoff),
``truncated`` says the answer is the shown start of a reply whose later part
was refused (then ``grounded`` is False and ``fallback`` False), and
``generation``, when the model was asked, its ``{"seconds", "tokens"}`` (tokens
None where the model's tokenizer is not in this process) for ``/metrics``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from bot.answers.attribution import strip_attribution
from bot.answers.checks import is_security_problem, is_supported, sentence_problems
from bot.answers.generation import Generator, count_tokens, stream_in_thread
from bot.answers.grounding import extractive_answer, is_unsure, source_texts
from bot.answers.instructions import split_instructions
from bot.answers.numbers import ungrounded_numbers
from bot.answers.prompts import PROMPT_VERSION, build_messages
from bot.answers.text import content_word_count, split_sentences

__all__ = ["MIN_STANDALONE_WORDS", "KnowledgeAnswerer"]

# Sentences are sent once the unsent text has this many content words (the
# whole-reply vocabulary check's minimum): a bare "Yes." or "Sure!" waits for
# the sentence after it, so it is never left alone on screen when that
# sentence is refused.
MIN_STANDALONE_WORDS = 4

log = logging.getLogger(__name__)


class KnowledgeAnswerer:
    """Answers knowledge questions from retrieved hits with a :class:`Generator`."""

    def __init__(
        self,
        generator: Generator,
        max_new_tokens: int = 160,
        temperature: float = 0.0,
        prompt_version: int = PROMPT_VERSION,
    ) -> None:
        self.generator = generator
        # The rules the adapter was trained with (bot.answers.prompts.SYSTEM_PROMPTS).
        self.prompt_version = prompt_version
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature

    async def stream(
        self,
        question: str,
        hits: Sequence[Any],
        history: Sequence[dict[str, str]] | None,
        settings: Any,
        fallback: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Yield token / replace / final events for a grounded answer; never raises.

        ``fallback``: what to say when the model's reply is refused (or there is
        none); by default a quotation of the best passage, which the caller
        replaces with an honest "not sure" when the passages may not answer.
        """
        hits = list(hits)
        # Grounding evidence: the passages the model sees and the store's
        # settings, never the customer's words.
        sources = source_texts(hits, settings)
        extractive = extractive_answer(hits) if fallback is None else fallback
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
            "truncated": False,
        }
        # Everything the customer wrote, to catch a reply that parrots it.
        user_turns = [m for m in (history or []) if m.get("role") == "user"]
        customer_text = "\n".join([*(str(m.get("content", "")) for m in user_turns), question])
        asked, instructions = split_instructions(question)
        if instructions:
            log.info("instructions in the question left out of the prompt: %r", instructions)
            final["problems"] = [
                f"instruction in the question ignored: {i!r}" for i in instructions
            ]
        # No model, nothing to ground an answer in, or a message that is only
        # instructions to the assistant: quote (or say "not sure").
        if self.generator.name == "none" or not hits or not asked:
            yield {"type": "token", "text": extractive}
            yield final
            return

        messages = build_messages(
            asked,
            hits,
            _without_instructions(history),
            settings,
            prompt_version=self.prompt_version,
        )
        system_prompt = messages[0]["content"]
        started = time.perf_counter()
        pieces = stream_in_thread(
            self.generator, messages, self.max_new_tokens, self.temperature, "shopbot-answer"
        )
        shown = ""  # checked text already sent as tokens
        # Checked text not sent yet because it is too short to stand alone: a
        # "Yes." before an attacker's sentence must not be left as the answer.
        held = ""
        model_text = ""
        buffer = ""
        problems: list[str] = []
        error: BaseException | None = None

        def check(sentence: str) -> list[str]:
            return sentence_problems(
                sentence,
                sources,
                customer_text=customer_text,
                system_prompt=system_prompt,
                before=shown + held,
            )

        try:
            async for item in pieces:
                model_text += item
                buffer += item
                sentences, buffer = split_sentences(buffer, complete_only=True)
                for sentence in sentences:
                    # "According to Passage 2, ..." names the prompt: cut before
                    # the checks, so they and the customer see the clean text.
                    sentence = strip_attribution(sentence)
                    if not sentence:
                        continue
                    problems = check(sentence)
                    if problems:
                        break
                    held += sentence
                    if content_word_count(held) >= MIN_STANDALONE_WORDS:
                        chunk, held = held, ""
                        shown += chunk
                        yield {"type": "token", "text": chunk}
                if problems:
                    break
            buffer = strip_attribution(buffer)
            if not problems and buffer.strip():
                # The model stopped mid-sentence (or without final punctuation).
                problems = check(buffer)
                if not problems:
                    held += buffer
            if not problems and held:
                chunk, held = held, ""
                shown += chunk
                yield {"type": "token", "text": chunk}
        except Exception as exc:  # raised by the model: answer extractively
            # (a cancelled turn or a consumer that went away is a BaseException
            # only, and propagates)
            error = exc
        finally:
            # Also reached when our consumer goes away (client disconnected).
            await pieces.aclose()

        final["model_text"] = model_text
        # For the tokens-per-second metric (bot/web/metrics.py): prompt processing included.
        final["generation"] = {
            "seconds": time.perf_counter() - started,
            "tokens": count_tokens(self.generator, model_text) if model_text else 0,
        }
        whole = {"customer_text": customer_text, "system_prompt": system_prompt}
        if error is not None:
            log.warning(
                "generator %s failed, answering extractively: %s", self.generator.name, error
            )
            final["problems"] = [f"generator failed: {type(error).__name__}: {error}"]
        elif not problems:
            ok, problems = is_supported(shown, sources, **whole)
            if ok:
                final.update(text=shown.strip(), fallback=False, unsure=is_unsure(shown))
                yield final
                return
        elif shown.strip() and any(is_security_problem(p) for p in problems):
            # The refused sentence was never shown; what was shown stays when it
            # is a grounded answer by itself, so nothing is withdrawn.
            ok, _ = is_supported(shown, sources, **whole)
            if ok:
                log.info("model reply cut before a refused sentence (%s)", "; ".join(problems))
                final.update(
                    text=shown.strip(),
                    grounded=False,
                    fallback=False,
                    truncated=True,
                    problems=problems,
                    ungrounded=ungrounded_numbers(model_text, sources),
                    unsure=is_unsure(shown),
                )
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


def _without_instructions(history: Sequence[dict[str, str]] | None) -> list[dict[str, str]]:
    """History with instructions cut out of the user turns (multi-turn injections)."""
    out = []
    for message in history or []:
        if message.get("role") == "user":
            asked, _ = split_instructions(str(message.get("content", "")))
            if not asked:
                continue
            message = {**message, "content": asked}
        out.append(message)
    return out
