"""Everything that is kept: the database layer (SQLite or PostgreSQL) and its
migrations, conversations and turns, the insights tables, the order book, and
redaction of what is stored.
"""
