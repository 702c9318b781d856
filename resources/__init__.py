"""Data shipped with EdgeMind: the model manifest (and later policies, prompts, labelled sets, icons)."""
