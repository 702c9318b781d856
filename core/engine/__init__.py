"""The engine façade: one request from prompt to answer as a stream of events, and the services the shells use
(conversations, models, cache admin, grants, audit log). Also the code-review service built on it.

A request's stages, in order (`facade.Engine.stream` sequences them over one `request.Request`): `input_check`,
`route_plan`, `cache_stage`, `context_window`, `generation`, `output_check`, `recording`."""
