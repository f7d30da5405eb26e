"""The merchant's tools: grounded product descriptions, drafted, checked and approved.

``shopbot describe`` (bot/merchant/commands.py) and ``/admin/descriptions``
(bot/web/descriptions.py) are the skins; the logic is here: the facts of a
product record (facts.py), the check every sentence passes (claims.py), the
sentences composed from the facts alone (templates.py), drafting with the chat
model (describe.py), proposals awaiting approval (proposals.py) and the careful
write into the store's products file (products_file.py).
"""
