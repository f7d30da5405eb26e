"""Reading a message: language, the store's intent model (inference only; training
is in ``training.intents``), entities, yes/no answers, sentiment and the
per-language phrase rules.
"""
