"""The safety check: a prompt before it is answered and an answer before it is kept (rules, an embedding
classifier and the policy file)."""
