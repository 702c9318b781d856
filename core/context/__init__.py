"""Conversation memory: the messages a model sees within its token budget (recent turns, rolling summary,
recalled facts)."""
