"""The intent router: which intent (code, math, docs, action, chat) a prompt is, and so which model, system
prompt, tools and parameters answer it. Lexical signals, the labelled-prompt classifier shared with safety
(`core.classify`) over MiniLM embeddings, the policy file, and an optional model judge for unsure prompts."""
