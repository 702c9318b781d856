"""The engine façade: one request from prompt to answer as a stream of events, and the services the shells use
(conversations, models, cache admin, tools, grants, audit log). Also the code-review service built on it.
Tool use is a per-request capability: a shell opens one with `Engine.open_tools` and passes it in `AskOptions.tools`;
the engine keeps none.

This is the engine's public surface: shells (app/, core/cli/, core/api/) import from here, never from the modules
below it (tests/test_layers.py checks it).

A request's stages, in order (`facade.Engine.stream` sequences them over one `request.Request`): `input_check`,
`route_plan`, `cache_stage`, `context_window`, `generation`, `output_check`, `recording`.
"""

from __future__ import annotations

from ..storage.chat_settings import (
    ChatSettings,  # a chat's own model, temperature, system prompt and tools switch (plain data with its checks)
    Preset,
)
from ..tools.citations import (  # links to the files a tool's result came from, opened only inside granted folders
    CitationError,
    Opening,
    opening,
)
from ..tools.runner import (
    ToolRunner,  # a shell's tool capability: Engine.open_tools returns it, AskOptions.tools takes it
)
from .facade import AskOptions, AskResult, Engine
from .packs import Packs
from .review import review_code
from .review_analyzers import AnalyzerReport
from .review_findings import Finding
from .route_plan import chat_options
from .services import (
    Answer,
    AskCallback,
    AuditTrail,
    CacheAdmin,
    Conversations,
    Grants,
    Models,
    PermissionRequest,
    Presets,
    Tools,
    open_registry,
)

__all__ = ["AnalyzerReport", "Answer", "AskCallback", "AskOptions", "AskResult", "AuditTrail", "CacheAdmin",
           "ChatSettings", "CitationError", "Conversations", "Engine", "Finding", "Grants", "Models", "Opening",
           "Packs", "PermissionRequest", "Preset", "Presets", "ToolRunner", "Tools", "chat_options", "opening",
           "open_registry", "review_code"]
