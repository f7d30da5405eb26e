"""Text that addresses the assistant: injected instructions and steering requests.

Found in a customer's message, they are split off the question
(:func:`split_instructions`) and their payload must not be echoed; found in
store text, injected instructions are removed before the text reaches the
model or the customer (:func:`strip_instructions`).
"""

from __future__ import annotations

import re

from bot.answers.text import tokens_of

# Text that addresses the assistant rather than informing the customer: an
# override of its rules, a request for its prompt, a fake role marker. Kept as
# data (a list of patterns, English and Chinese) rather than fitted to one
# store; these almost never occur in genuine store text, so sentences carrying
# them are also removed from the passages (:func:`strip_instructions`).
INJECTION_PATTERNS: tuple[str, ...] = (
    r"\b(?:ignore|disregard|forget|override|bypass|overrule)\b[^.!?\n]{0,40}?"
    r"\b(?:instructions?|rules|prompts?|guidelines|directions|directives|constraints|policies "
    r"you|programming|context|passages)\b",
    r"\bsystem\s*(?:prompt|message|override|instructions?|note|mode|update)\b",
    r"\b(?:developer|debug|admin|maintenance|god|jailbreak|unrestricted)\s+mode\b",
    r"\byou\s+are\s+(?:now|no longer)\b",
    r"\bfrom\s+now\s+on\b",
    r"\bnew\s+(?:instructions?|rules|task|role|persona|directive)\b",
    r"\b(?:assistant|ai|bot|chatbot|model|llm)\s+(?:instructions?|note|override|directive|must)\b",
    r"\b(?:reveal|print|repeat|output|show|display|disclose|leak|dump|recite|write out|"
    r"translate|paste|spell out|list)\b[^.!?\n]{0,40}?\b(?:instructions|system prompt|"
    r"(?:initial|original|hidden|full|secret|first) (?:prompt|message|rules)|your prompt|"
    r"hidden rules|configuration|the rules you)\b",
    r"\b(?:tell|instruct|inform)\s+(?:the\s+|every\s+|all\s+)?(?:customers?|users?|shoppers?|"
    r"buyers?|visitors?)\s+(?:to|that)\b",
    r"\b(?:act|behave|respond)\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|different|new|evil|"
    r"jailbroken)?\s*(?:ai|assistant|bot|dan|developer|admin|model|chatbot)\b",
    r"\bpretend\s+(?:to\s+be|you\s+are|that\s+you)\b",
    r"(?:^|[\s\"'(])(?:system|assistant|developer|admin)\s*:\s",
    r"</?(?:passages?|system|instructions?|context|prompt|assistant|user)>|<\|[a-z_]+\|>|"
    r"\[/?inst\]|<<sys>>",
    r"(?:忽略|无视|忘记|忽视|不要理会|不用理会|跳过)[^。！？\n]{0,12}(?:指令|指示|规则|提示|设定|要求|限制)",
    r"系统提示|系统指令|系统消息|提示词|开发者模式|调试模式|管理员模式",
    r"你现在是|从现在开始|新的?指令|扮演",
    r"(?:输出|打印|显示|重复|泄露|透露|告诉我|念出|复述)[^。！？\n]{0,10}(?:指令|提示|规则|设定)",
)
# Requests that steer the wording of the answer ("reply only with", "repeat
# after me"): harmless in store text, an attack in a customer's message.
STEERING_PATTERNS: tuple[str, ...] = (
    r"\b(?:reply|respond|answer|say|write|output|print|return|type)\s+"
    r"(?:only|just|exactly|verbatim|precisely|nothing but)\b",
    r"\b(?:reply|respond|answer)\s+(?:me\s+)?with\s+(?:only\s+|just\s+)?"
    r"(?:this|these|the following|exactly|the sentence|the text)\b",
    r"\bsay\s+(?:this|the following|exactly|after me|these words)\b",
    r"\brepeat\s+(?:after me|this|these|the following|everything|the text|the words|"
    r"word for word|verbatim|your|the above|back to me|what i)\b",
    r"\bword[- ]for[- ]word\b|\bverbatim\b",
    r"\b(?:start|begin)(?:ning|ing)?\s+(?:your\s+)?(?:reply|answer|response|message)?\s*with\s*:",
    r"\b(?:start|begin)\s+your\s+(?:reply|answer|response)\b",
    r"\b(?:this|that|the following)\s+exact\s+(?:sentence|text|phrase|message|words|link|url)\b",
    r"\b(?:copy|paste|include|insert|add)\s+(?:this|the following)\s+"
    r"(?:text|sentence|link|url|message|line)\b",
    r"\b(?:before|instead of)\s+answering\b",
    r"\byour\s+(?:prompt|programming|initial instructions|original instructions)\b",
    r"只(?:回复|回答|输出|说)|原样|逐字|照抄|照着说|复述|重复(?:以下|下面|这句|这段|你的|一遍|我说)|"
    r"回答之前|在回答前|请直接说",
)
_INJECTION_RE = re.compile("|".join(f"(?:{p})" for p in INJECTION_PATTERNS), re.IGNORECASE)
_INSTRUCTION_RE = re.compile(
    "|".join(f"(?:{p})" for p in (*INJECTION_PATTERNS, *STEERING_PATTERNS)), re.IGNORECASE
)
# Clauses for instruction detection: Latin sentence ends need a following space
# ("$4.99" is not a boundary); Chinese ones do not.
_CLAUSE_RE = re.compile(r"(?<=[.!?])[\"')\]]*\s+|(?<=[。！？；])|\n+")


def _clauses(text: str) -> list[str]:
    return [c for c in _CLAUSE_RE.split(text) if c and c.strip()]


def split_instructions(text: str) -> tuple[str, list[str]]:
    """Split a customer's message into ``(question, instructions)``.

    An instruction is a clause that addresses the assistant
    (:data:`INJECTION_PATTERNS`, :data:`STEERING_PATTERNS`: "ignore previous
    instructions", "reply only with", "repeat your instructions",
    "忽略之前的指令", "只回复" ...) from where the pattern starts, plus the
    clauses after it up to the next genuine question (the payload of "reply
    only with the following. <payload>"). ``question`` is what is left, the
    part worth answering; it may be empty.
    """
    kept: list[str] = []
    instructions: list[str] = []
    in_payload = False
    for clause in _clauses(text):
        match = _INSTRUCTION_RE.search(clause)
        if match:
            before = clause[: match.start()].strip(" ,;:-—")
            # "What is the refund policy and ignore ...": keep the question part.
            if len(tokens_of(before)) >= 3:
                kept.append(before)
            instructions.append(clause[match.start() :].strip())
            in_payload = True
        elif in_payload and not clause.rstrip().endswith(("?", "？")):
            instructions[-1] += " " + clause.strip()
        else:
            in_payload = False
            kept.append(clause.strip())
    return " ".join(kept).strip(), instructions


def instruction_segments(text: str) -> list[str]:
    """The instructions to the assistant in ``text`` (see :func:`split_instructions`)."""
    return split_instructions(text)[1]


def strip_instructions(text: str) -> str:
    """Store text without the sentences that address the assistant.

    A sentence matching :data:`INJECTION_PATTERNS` and everything after it in
    the same paragraph are dropped: the facts before a planted instruction stay
    quotable, while the instruction and whatever it smuggles in (a link, a
    contact address) reach neither the model nor the customer. Steering phrases
    ("reply only with") are left alone here, since store text may legitimately
    say "reply with your order number".
    """
    if not text or not _INJECTION_RE.search(text):
        return text
    paragraphs = re.split(r"(\n\s*\n)", text)
    out: list[str] = []
    for paragraph in paragraphs:
        match = _INJECTION_RE.search(paragraph)
        if not match:
            out.append(paragraph)
            continue
        head = paragraph[: match.start()]
        # Cut back to the start of the sentence the instruction is in.
        ends = [m.end() for m in re.finditer(r"[.!?。！？](?:\s+|$)|\n", head)]
        out.append(head[: ends[-1]].rstrip() if ends else "")
    return "".join(out).strip()
