"""The safety check: a prompt before it is answered and an answer before it is kept (rules, the shared classifier of
`core.classify` over safety's own features, and the policy file)."""
