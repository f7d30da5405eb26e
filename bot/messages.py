"""The message catalogue: every fixed text a customer reads, in each language the bot speaks.

:data:`CATALOGUE` holds the texts by language (``en``, ``zh`` simplified Chinese), each
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

from bot.nlu.language import DEFAULT, SUPPORTED, normalise

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        # -- greeting, small talk, restart
        "greeting": "Hi! I'm the {store} assistant. Ask me about products, orders, "
        "shipping or returns.",
        "goodbye": "Thanks for visiting {store}. Have a great day!",
        "thanks": "You're welcome! Anything else I can help with?",
        "restart": "Okay, let's start over. How can I help?",
        # -- knowledge answers: abstain, clarify, busy
        "oos": "I'm sorry, I can't help with that here: I can answer questions about {store}, "
        "our products, and your orders. Would you like me to connect you with a person?",
        "low_confidence": "I'm not sure I have the right answer to that in our store's "
        "information, and I'd rather not guess. Would you like me to connect you with a person?",
        "clarify": "I want to be sure I answer the right question. Did you mean one of these?",
        "busy": "Sorry, a lot of customers are asking right now, so I can't write you a full "
        "answer this minute. Here is what our store information says:\n{answer}",
        # -- consent to a change
        "confirmation_expired": "That question has expired, so I haven't changed anything. "
        "If you still want it, please ask again and I'll show you the details to confirm.",
        "confirm_unclear": "I haven't changed anything yet. To go ahead, please answer just "
        '"yes"; to keep everything as it is, answer "no".',
        "deny_change": "Okay, I haven't changed anything. Is there anything else I can help with?",
        "ask_yes": "Shall I go ahead?",
        "change_aborted": "Okay, I haven't changed anything. Order {order_id} stays as it is.",
        # -- handoff to a person
        "handoff": "I'm passing this to a member of our team; they will get back to you as "
        "soon as they can.",
        "no_inbox_handoff": "There's no one from our team in this chat, so I can't hand you "
        "over here. {contact}",
        "contact": "Please contact {store} directly through the contact details on our website.",
        "handoff_waiting": "You're in the queue for a member of our team; they will reply here. "
        "Type /restart to start over with the assistant.",
        "handed_back": "You're back with our assistant. How else can I help?",
        "deny_handoff": "No problem. What else can I help you with?",
        "escalation_offer": "I'm sorry this isn't going well. Would you like me to connect you "
        "with a person from our team?",
        "action_failed": "Sorry, something went wrong on our side while handling that. "
        "I can connect you with a person who can help.",
        "verification_handoff": "For your security I can't take more attempts to verify your "
        "identity in this chat.",
        # -- buttons (their payloads never change with the language)
        "button_talk_to_person": "Talk to a person",
        "button_no_thanks": "No thanks",
        "button_none_of_these": "None of these: talk to a person",
        "button_yes": "Yes",
        "button_no": "No",
        "button_check_order": "Check my order",
        "button_cancel_order": "Cancel an order",
        "button_start_return": "Start a return",
        "button_yes_cancel": "Yes, cancel it",
        "button_no_keep": "No, keep it",
        "button_yes_return": "Yes, request the return",
        "button_no_longer_needed": "No longer needed",
        "button_ordered_by_mistake": "Ordered by mistake",
        # -- verification
        "ask_identity": "Before I can look at your orders, I need to verify your identity. "
        "Please tell me the email address on your account, or your full name and zip code.",
        "ask_zip": "Thanks. What's the zip code on your account?",
        "ask_name": "Thanks. And your full name (first and last) as it appears on your account?",
        "customer_not_found": "I couldn't find an account with those details. Please check "
        "them and try again: the email address on your account, or your full name and zip code.",
        "details_conflict": "Those details don't all belong to one customer account, so I "
        "can't verify you with them. Please give the details of one account only: its email "
        "address, or the full name and zip code on it.",
        "verification_locked": "I can't verify your identity in this chat after several "
        "attempts with details that didn't match our records.",
        "verified": "Thanks, {first_name}, you're verified.",
        "already_verified": "You're already verified, {first_name}. How can I help with your "
        "orders?",
        "one_customer_only": "I can only help with one customer account per conversation, so "
        "I can't act on another account here.",
        # -- orders
        "orders_unavailable": "I can't look up orders in this chat. Please contact our support "
        "team about your order.",
        "order_not_found": "I couldn't find order {order_id} on your account. Please check the "
        "order number; I can also list your orders if you like.",
        "no_orders": "I don't see any orders on your account.",
        "order_list_header": "Here are your orders:",
        "order_list_line_one": "- {order_id}: {status}, {count} item, {total}",
        "order_list_line_many": "- {order_id}: {status}, {count} items, {total}",
        "order_list_more": "…and {count} more.",
        "order_list_footer": "Tell me an order number for its details.",
        "order_status": "Order {order_id} is {status}.",
        "order_items_header": "Items:",
        "order_total": "Total: {total}",
        "order_tracking": "Tracking number: {tracking}",
        "order_return_info": "Return requested for: {items}.",
        "order_cancel_info": "Cancelled ({reason}).",
        "order_change_refused": "Sorry, order {order_id} changed just now, so I couldn't make "
        "that change. I can show you its details if you like.",
        "status_pending": "pending",
        "status_processed": "processed",
        "status_delivered": "delivered",
        "status_cancelled": "cancelled",
        "reason_line": "Reason: {reason}",
        "reason_no_longer_needed": "no longer needed",
        "reason_ordered_by_mistake": "ordered by mistake",
        # -- cancelling
        "ask_order_to_cancel": "Which order would you like to cancel? Your pending orders: "
        "{orders}.",
        "no_pending_orders": "You have no pending orders, and only pending orders can be "
        "cancelled. I can show your orders if you like.",
        "ask_cancel_reason": "Why would you like to cancel order {order_id}: is it no longer "
        "needed, or was it ordered by mistake?",
        "cancel_not_pending": "Order {order_id} is {status}, so it can't be cancelled: only "
        "pending orders can be cancelled.",
        "cancel_not_pending_delivered": "Order {order_id} is {status}, so it can't be "
        "cancelled: only pending orders can be cancelled. Delivered orders can be returned "
        "instead, if you like.",
        "cancel_confirm": "Please confirm: cancel order {order_id}?",
        "refund_gift_card_plan": "Refund: {amount} back to your {method}, immediately.",
        "refund_other_plan": "Refund: {amount} back to your {method}, within 5 to 7 business days.",
        "cancel_done": "Done: order {order_id} is cancelled. {refund}",
        "refund_gift_card_done": "The refund of {amount} goes back to your {method} immediately.",
        "refund_other_done": "The refund of {amount} goes back to your {method} within 5 to 7 "
        "business days.",
        # -- returns
        "return_ask_order_id": "Which order would you like to return items from? Please give "
        "the order id (like #W1234567).",
        "return_ask_items": "Which items from that order would you like to return? You can "
        "name them, or say 'all'.",
        "return_ask_reason": "What's the reason for the return?",
        "return_not_delivered": "Order {order_id} is {status}, so it can't be returned: only "
        "delivered orders can be returned.",
        "return_order_items": "Order {order_id} was delivered with these items:",
        "return_items_not_found": "I couldn't match that to an item in order {order_id}. It "
        'contains: {items}. You can also say "all".',
        "return_reason_missing": "Could you tell me briefly why you're returning the items?",
        "return_missing_slots": "To request a return I still need {missing}.",
        "missing_order_number": "the order number",
        "missing_return_items": "the items to return",
        "missing_return_reason": "the reason",
        "return_confirm": "Please confirm this return of order {order_id}:",
        "return_refund_line": "Refund: {amount} to your {method}.",
        "return_done": "Done: a return is requested for order {order_id}. You'll receive an "
        "email with instructions on how to return the items. The refund of {amount} goes to "
        "your {method}.",
        # -- payment methods, as the refund lines name them
        "payment_gift_card": "gift card",
        "payment_card_ending": "{brand} ending {last_four}",
        "payment_credit_card": "credit card",
        "payment_paypal": "PayPal account",
        "payment_original": "original payment method",
        # -- products
        "product_not_found": "Sorry, I couldn't find a product matching that in our catalog.",
        "product_simple": "{title}: {price}, {stock}.",
        "product_summary": "{title}: {count} options, {price_range}.",
        "product_variant_line": "- {title} — {options}: {price}, {stock}",
        "product_no_variant": "{title} doesn't come in {wanted}. Available {option}: {values}.",
        "product_no_variant_plain": "{title} doesn't come in {wanted}.",
        "product_matching": "{count} in {wanted}:",
        "product_more": "…and {count} more options.",
        "price_range": "{low} to {high}",
        "price_on_request": "price on request",
        "in_stock": "in stock",
        "out_of_stock": "out of stock",
        # -- how lists are joined in running text
        "list_separator": ", ",
        "item_separator": "; ",
    },
    "zh": {
        "greeting": "您好！我是{store}的智能客服，可以为您解答商品、订单、配送和退换货方面的问题。",
        "goodbye": "感谢您光临{store}，祝您生活愉快！",
        "thanks": "不客气！还有什么可以帮您的吗？",
        "restart": "好的，我们重新开始。请问有什么可以帮您？",
        "oos": "抱歉，这个问题我这边没法帮您解答。我可以为您解答关于{store}、我们的商品和您的订单的问题。"
        "需要为您转接人工客服吗？",
        "low_confidence": "抱歉，店铺资料里暂时没有找到这个问题的准确答案，为免误导您，我就不随便回答了。"
        "需要为您转接人工客服吗？",
        "clarify": "为了准确回答您的问题，想跟您确认一下：您是想问下面哪一个？",
        "busy": "抱歉，现在咨询的顾客比较多，暂时没法为您详细解答。以下是店铺资料里的相关内容：\n{answer}",
        "confirmation_expired": "这个确认已经过期了，所以我没有做任何更改。如果您仍需办理，请重新告诉我，"
        "我会再把详情发给您确认。",
        "confirm_unclear": "我还没有做任何更改。确认办理请直接回复“是”；保持不变请回复“不”。",
        "deny_change": "好的，我没有做任何更改。还有什么可以帮您的吗？",
        "ask_yes": "需要我为您办理吗？",
        "change_aborted": "好的，我没有做任何更改，订单 {order_id} 保持不变。",
        "handoff": "已为您转接人工客服，客服会尽快回复您。",
        "no_inbox_handoff": "目前这个对话里没有人工客服在线，所以没法在这里为您转接。{contact}",
        "contact": "请通过我们网站上的联系方式直接联系{store}。",
        "handoff_waiting": "您已在排队等待人工客服，客服会在这里回复您。如需重新和智能客服对话，请输入 /restart。",
        "handed_back": "现在由智能客服继续为您服务。还有什么可以帮您的吗？",
        "deny_handoff": "好的。还有什么可以帮您的吗？",
        "escalation_offer": "很抱歉给您带来了不好的体验。需要为您转接我们的人工客服吗？",
        "action_failed": "抱歉，我们这边处理时出了点问题。我可以为您转接人工客服来处理。",
        "verification_handoff": "为了您的账户安全，本次对话中无法再继续验证您的身份。",
        "button_talk_to_person": "转人工客服",
        "button_no_thanks": "不用了，谢谢",
        "button_none_of_these": "都不是，转人工客服",
        "button_yes": "是",
        "button_no": "否",
        "button_check_order": "查询我的订单",
        "button_cancel_order": "取消订单",
        "button_start_return": "申请退货",
        "button_yes_cancel": "是的，取消订单",
        "button_no_keep": "不，保留订单",
        "button_yes_return": "是的，申请退货",
        "button_no_longer_needed": "不再需要了",
        "button_ordered_by_mistake": "下错单了",
        "ask_identity": "查询订单前需要先验证您的身份。请提供您账户的邮箱地址，或者您的全名和邮编。",
        "ask_zip": "谢谢。请问您账户上的邮编是多少？",
        "ask_name": "谢谢。请再提供一下您账户上登记的全名（名和姓）。",
        "customer_not_found": "没有找到与这些信息匹配的账户。请核对后再试一次：提供您账户的邮箱地址，"
        "或者您的全名和邮编。",
        "details_conflict": "您提供的这些信息不属于同一个账户，所以无法验证您的身份。请只提供一个账户的信息："
        "它的邮箱地址，或者账户上的全名和邮编。",
        "verification_locked": "由于多次提供的信息与我们的记录不符，本次对话中无法再为您验证身份。",
        "verified": "谢谢您，{first_name}，身份验证已通过。",
        "already_verified": "{first_name}，您的身份已经验证过了。请问订单方面有什么可以帮您？",
        "one_customer_only": "每次对话只能为一个客户账户办理，所以这里无法处理其他账户的事宜。",
        "orders_unavailable": "这里暂时无法查询订单。订单相关的问题，请联系我们的客服团队。",
        "order_not_found": "您的账户下没有找到订单 {order_id}。请核对一下订单号；如果需要，"
        "我也可以列出您的所有订单。",
        "no_orders": "您的账户下暂时没有订单。",
        "order_list_header": "以下是您的订单：",
        "order_list_line_one": "- {order_id}：{status}，{count} 件商品，{total}",
        "order_list_line_many": "- {order_id}：{status}，{count} 件商品，{total}",
        "order_list_more": "……还有 {count} 个订单。",
        "order_list_footer": "告诉我订单号，我可以为您查看详情。",
        "order_status": "订单 {order_id} 的状态：{status}。",
        "order_items_header": "商品：",
        "order_total": "合计：{total}",
        "order_tracking": "物流单号：{tracking}",
        "order_return_info": "已申请退货：{items}。",
        "order_cancel_info": "已取消（{reason}）。",
        "order_change_refused": "抱歉，订单 {order_id} 的状态刚刚有变化，这次没能办理。需要的话我可以为您查看订单详情。",
        "status_pending": "待处理",
        "status_processed": "已处理",
        "status_delivered": "已送达",
        "status_cancelled": "已取消",
        "reason_line": "原因：{reason}",
        "reason_no_longer_needed": "不再需要",
        "reason_ordered_by_mistake": "下错单",
        "ask_order_to_cancel": "请问您要取消哪个订单？您待处理的订单有：{orders}。",
        "no_pending_orders": "您目前没有待处理的订单，只有待处理的订单才能取消。如果需要，我可以为您列出您的订单。",
        "ask_cancel_reason": "请问您取消订单 {order_id} 的原因是什么：是不再需要了，还是下错单了？",
        "cancel_not_pending": "订单 {order_id} 的状态是“{status}”，无法取消：只有待处理的订单才能取消。",
        "cancel_not_pending_delivered": "订单 {order_id} 的状态是“{status}”，无法取消：只有待处理的订单才能取消。"
        "已送达的订单可以申请退货，如有需要请告诉我。",
        "cancel_confirm": "请确认：是否取消订单 {order_id}？",
        "refund_gift_card_plan": "退款：{amount} 将立即退回您的{method}。",
        "refund_other_plan": "退款：{amount} 将在 5 到 7 个工作日内退回您的{method}。",
        "cancel_done": "好的，订单 {order_id} 已为您取消。{refund}",
        "refund_gift_card_done": "{amount} 的退款将立即退回您的{method}。",
        "refund_other_done": "{amount} 的退款将在 5 到 7 个工作日内退回您的{method}。",
        "return_ask_order_id": "请问您要退哪个订单里的商品？请告诉我订单号（例如 #W1234567）。",
        "return_ask_items": "这个订单里您要退哪些商品？可以直接说商品名称，或者说“全部”。",
        "return_ask_reason": "请问退货的原因是什么？",
        "return_not_delivered": "订单 {order_id} 的状态是“{status}”，无法退货：只有已送达的订单才能退货。",
        "return_order_items": "订单 {order_id} 已送达，包含以下商品：",
        "return_items_not_found": "没能在订单 {order_id} 里找到对应的商品。这个订单包含：{items}。"
        "您也可以说“全部”。",
        "return_reason_missing": "能简单说一下退货的原因吗？",
        "return_missing_slots": "申请退货还需要提供：{missing}。",
        "missing_order_number": "订单号",
        "missing_return_items": "要退的商品",
        "missing_return_reason": "退货原因",
        "return_confirm": "请确认订单 {order_id} 的退货信息：",
        "return_refund_line": "退款：{amount} 退回您的{method}。",
        "return_done": "好的，订单 {order_id} 的退货申请已为您提交。您会收到一封邮件，里面有退货的操作说明。"
        "{amount} 的退款将退回您的{method}。",
        "payment_gift_card": "礼品卡",
        "payment_card_ending": "尾号 {last_four} 的 {brand}",
        "payment_credit_card": "信用卡",
        "payment_paypal": "PayPal 账户",
        "payment_original": "原支付方式",
        "product_not_found": "抱歉，我们的商品目录里没有找到符合的商品。",
        "product_simple": "{title}：{price}，{stock}。",
        "product_summary": "{title}：共 {count} 个款式，{price_range}。",
        "product_variant_line": "- {title} — {options}：{price}，{stock}",
        "product_no_variant": "{title} 没有 {wanted} 的款式。可选的{option}：{values}。",
        "product_no_variant_plain": "{title} 没有 {wanted} 的款式。",
        "product_matching": "{wanted} 的有 {count} 款：",
        "product_more": "……还有 {count} 个款式。",
        "price_range": "{low} 至 {high}",
        "price_on_request": "价格请咨询客服",
        "in_stock": "有货",
        "out_of_stock": "缺货",
        "list_separator": "、",
        "item_separator": "；",
    },
}

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
                    hint=hint + "The keys are those of CATALOGUE in bot/messages.py",
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
