"""The chat LM backends: one module each, picked by :func:`bot.answers.generation.load_generator`."""
