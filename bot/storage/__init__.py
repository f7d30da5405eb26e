"""Everything that is kept: the database layer (SQLite or PostgreSQL) and its
migrations, conversations and turns, the handoff queue, the insights tables, the reads
of the log behind reports and fine-tuning, the order book, and redaction of what is stored.
"""
