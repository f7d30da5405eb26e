"""Every fixed text in English: the catalogue's reference language (bot/messages/catalogue.py)."""

TEXTS: dict[str, str] = {
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
    # Honest first: the bot is not sure, and a person is the other way out (the
    # "None of these" button), for a question the store has no entry for.
    "clarify": "I'm not sure I have the right answer to that. Did you mean one of these? "
    "If none of them fits, I can connect you with a person.",
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
    "button_list_orders": "List my orders",
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
    "already_verified": "You're already verified, {first_name}. How can I help with your orders?",
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
    "status_return_requested": "return requested",
    "order_list_entry": "{n}. {order_id}: {status}, {items}, {total}",
    "order_list_entry_dated": "{n}. {order_id} ({date}): {status}, {items}, {total}",
    "order_items_summary_one": "{count} item ({titles})",
    "order_items_summary_many": "{count} items ({titles})",
    "order_list_earlier": "({count} earlier orders are not shown.)",
    "order_list_ask": 'Which one would you like to know more about? Say "the first one", '
    "or name an item in it.",
    "order_list_header_status": "Your {statuses} orders:",
    "no_orders_with_status": "None of your orders is {statuses}.",
    "which_order": "Which order do you mean?",
    "order_choice": "{order_id}: {items}",
    "order_most_recent": "Your most recent order is {order_id}.",
    "order_placed": "Placed on {date}.",
    "order_contents": "Order {order_id} contains:",
    "order_no_tracking": "It has no tracking number yet.",
    "order_list_declined": "No problem. What else can I help you with?",
    "date_format": "{year}-{month:02d}-{day:02d}",
    # -- cancelling
    "ask_order_to_cancel": "Which order would you like to cancel? Your pending orders: {orders}.",
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
    "product_summary_in_stock": "{title}: {count} options, {available} in stock at {price_range}.",
    "product_variant_line": "- {title} — {options}: {price}, {stock}",
    "product_no_variant": "{title} doesn't come in {wanted}. Available {option}: {values}.",
    "product_no_variant_plain": "{title} doesn't come in {wanted}.",
    "product_matching": "{count} in {wanted}:",
    "product_more": "…and {count} more options.",
    "price_range": "{low} to {high}",
    "price_on_request": "price on request",
    "in_stock": "in stock",
    "out_of_stock": "out of stock",
    "catalog_which_product": "Which product would you like to know about? Tell me its name and I'll check.",
    "catalog_unlisted": (
        "Our catalog doesn't list {what} for {title}, so I'd rather not guess. Ask me about "
        "its options, prices or stock, or ask for a person."
    ),
    "catalog_not_listed": (
        "Our catalog doesn't list that for {titles}, so I'd rather not guess. I can tell you "
        "its options, prices and stock, or connect you with a person."
    ),
    "catalog_none_of_those": "None of those are {conditions}. From the rest of our catalog:",
    "catalog_nothing_matches": "Sorry, I couldn't find anything in our catalog{conditions}.",
    "catalog_list_header": "Here's what I found{conditions}:",
    "catalog_sorted_up": "Here's what I found{conditions}, cheapest first:",
    "catalog_sorted_down": "Here's what I found{conditions}, most expensive first:",
    "catalog_list_line": "- {title}: {price}, {stock}",
    "catalog_list_line_options": "- {title}: {price} ({count} options), {stock}",
    "catalog_list_more": "…and {count} more.",
    "catalog_conditions": " ({conditions})",
    "cond_under": "under {price}",
    "cond_over": "over {price}",
    "catalog_cheapest_variant": "The cheapest {title}{conditions}: {options}, {price}, {stock}.",
    "catalog_priciest_variant": "The most expensive {title}{conditions}: {options}, {price}, {stock}.",
    "catalog_cheapest_product": "The cheapest{conditions} is {item}: {price}, {stock}.",
    "catalog_priciest_product": "The most expensive{conditions} is {item}: {price}, {stock}.",
    "product_matching_conditions": "{count} of them{conditions}:",
    "product_none_matching": "Sorry, {title} has nothing{conditions} right now.",
    "stock_answer_all": "Yes, {title}{wanted} is in stock.",
    "stock_answer_some": "Yes, {title}{wanted} is in stock in {available} of {count} options.",
    "stock_answer_none": "Sorry, {title}{wanted} is out of stock right now.",
    "stock_in_stock_values": "In stock in {option}: {values}.",
    "option_values_header": "{title} comes in these {option} options:",
    "option_value_line": "- {value}: {price}, {stock}",
    "option_not_offered": "{title} has no choice of {option}. Its options: {names}.",
    "option_attribute_line": "{title} — {name}: {value}",
    "attribute_has": "Yes: {title} — {name}: {value}.",
    "attribute_lacks": "No: {title} — {name}: {value}.",
    "compare_header": "Here's how they compare:",
    "compare_only_one": "I found only one matching product:",
    "compare_detail": "  {name}: {values}",
    "compare_stock_some": "{available} of {count} options in stock",
    "value_yes": "yes",
    "value_no": "no",
    # -- how lists are joined in running text
    "list_separator": ", ",
    "item_separator": "; ",
    "list_or": " or ",
}
