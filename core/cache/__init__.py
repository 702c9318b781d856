"""The answer cache: L1 in memory, L2 in SQLite, and the semantic tier (with the guards that keep a paraphrase
from answering a different question)."""
