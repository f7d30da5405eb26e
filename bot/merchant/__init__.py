"""The merchant's tools: proposals for the store, drafted, checked and approved.

Grounded product descriptions: ``shopbot describe`` (bot/merchant/commands.py) and
``/admin/descriptions`` (bot/web/descriptions.py) are the skins; the logic is here:
the facts of a product record (facts.py), the check every sentence passes
(claims.py), the sentences composed from the facts alone (templates.py), drafting
with the chat model (describe.py), proposals awaiting approval (proposals.py) and
the careful write into the store's products file (products_file.py).

FAQ entries learned from people: ``shopbot faq`` (faq_commands.py) and
``/admin/faq-proposals`` (bot/web/faq_proposals.py); what customers asked and
agents answered, clustered (faq_learning.py), scrubbed of personal data
(scrub.py), proposed and decided (faq_proposals.py) and appended to the store's
FAQ file (faq_file.py).
"""
