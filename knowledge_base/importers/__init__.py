"""Bring your store: turn a merchant's existing data into a shopbot store folder.

One module per source: ``shopify`` and ``woocommerce`` (product CSV exports),
``rasa`` (a Rasa project's NLU data and domain), ``faq`` (a CSV/JSONL FAQ or a
help page, split by ``help_pages``); ``starter`` writes a commented starter
store. Each reader returns an ``ImportResult`` (``report``): the store records
it made and an ``ImportReport`` of what it took, what it skipped and why.
``store_writer.write_store`` puts the records into the store folder without
silently overwriting anything, then loads the store with the normal loader.
``commands.add_commands`` adds ``shopbot import ...`` and ``shopbot init``.
"""
