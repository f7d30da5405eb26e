"""The business actions (rasa-sdk ``Action`` classes over the order book and the
catalog) and the runner that executes them in-process.
"""
