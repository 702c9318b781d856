"""The intent router: which intent (code, math, docs, action, chat) a prompt is, and so which model, system
prompt, tools and parameters answer it (`decision.RouteDecision`, what every router returns). Lexical signals, the
labelled-prompt classifier shared with safety (`core.classify`) over MiniLM embeddings, the tool offers (only the
tools a prompt needs, `offers.py`), the policy file, and an optional model judge for unsure prompts."""
