"""The engine façade: one request from prompt to answer as a stream of events, and the services the shells use
(conversations, models, cache admin, grants, audit log). Also the code-review service built on it."""
