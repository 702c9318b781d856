"""Moved: the router seam to `routing.decision`, the context builder to `context.builder`, the safety seam to
`safety.verdict`. Re-exported here until the engine's stages import them from there."""

from __future__ import annotations

from ..context.builder import ContextBuilder
from ..routing.decision import DEFAULT_SYSTEM_PROMPT, DefaultRouter, RouteDecision, Router
from ..safety.verdict import Safety, Verdict

__all__ = ["DEFAULT_SYSTEM_PROMPT", "ContextBuilder", "DefaultRouter", "RouteDecision", "Router", "Safety", "Verdict"]
