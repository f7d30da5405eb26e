"""The message catalogue: every fixed text a customer reads, per language
(``catalogue.py``; the texts in ``en.py`` and ``zh.py``)."""
