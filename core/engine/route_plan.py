"""The routing stage: the router's decision made concrete for one request — the model on the backend that runs it
here, the generation settings, the system prompt, the earlier turns and the tools offered. It decides; it never
generates or stores anything."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from ..backends.base import GenerationParams, Message
from ..errors import ModelError, ModelNotFound, PromptError
from ..mcp.offer import matching_tools
from ..models.manifest import ModelSpec
from ..models.registry import ModelRegistry
from ..routing.decision import RouteDecision, Router
from ..routing.policy import IntentParams
from ..settings import Settings
from ..storage.chat_settings import ChatSettings
from ..storage.conversations import ConversationStore
from ..tools.registry import Tool
from .request import AskOptions, Plan, Request

# `resolve(spec, asked_backend) -> spec`: the backend a model runs on (Engine.local_spec, Engine.runnable_spec).
SpecResolver = Callable[[ModelSpec, "str | None"], ModelSpec]
log = logging.getLogger(__name__)


def chat_options(chat: ChatSettings, options: AskOptions) -> AskOptions:
    """The request's options with a chat's settings under them: what the caller set itself wins (`ask --model`,
    `--temperature 0`), the chat's settings fill what it left unset, and a chat with tools off is offered none even
    when the shell grants a tool capability."""
    return replace(
        options,
        model=options.model or chat.model,
        temperature=options.temperature if options.temperature is not None else chat.temperature,
        system_prompt=options.system_prompt or chat.system_prompt,
        tools=options.tools if chat.tools else None,
    )


def generation_params(options: AskOptions, routed: IntentParams, default_max_tokens: int) -> GenerationParams:
    """The user's options first, then the routed intent's settings (math: temperature 0), then defaults."""
    temperature = options.temperature if options.temperature is not None else routed.temperature
    params = GenerationParams(
        max_tokens=options.max_tokens or routed.max_tokens or default_max_tokens,
        temperature=0.7 if temperature is None else temperature,
        seed=options.seed, stop=options.stop, json_schema=options.json_schema,
    )
    return params if options.top_p is None else replace(params, top_p=options.top_p)


class RoutePlanner:
    def __init__(self, router: Router, registry: ModelRegistry, store: ConversationStore, settings: Settings, *,
                 local: SpecResolver, runnable: SpecResolver) -> None:
        self.router = router
        self.registry = registry
        self.store = store
        self.settings = settings
        self.local = local  # the request's or the configured local backend (cheap: no file is touched)
        self.runnable = runnable  # and the fallback where llama.cpp's native code cannot run the model

    def plan(self, request: Request) -> Plan:
        options = request.options = self.with_chat_settings(request)
        decision = self.router.route(request.prompt, options.model)
        spec = self.local(self.registry.get(decision.model_id), options.backend)
        if options.backend and spec.backend != options.backend:
            raise ModelError(f"model {spec.id!r} runs on {spec.backend}, not {options.backend}")
        params = self.params(options, decision.params)
        system = options.system_prompt or decision.system_prompt
        if options.history and request.conversation_id is not None:
            raise PromptError("give either earlier messages or a conversation id, not both")
        history = tuple(options.history) if options.history else self.history(request.conversation_id)
        spec = self.runnable(spec, options.backend)
        tools = self.offered(decision, options, request.prompt)
        request.plan = Plan(decision, spec, params, system, history, tools)
        return request.plan

    def with_chat_settings(self, request: Request) -> AskOptions:
        """The options with the stored settings of the conversation the request continues (none: as given). A
        setting that can no longer be used (a removed model) falls back to its default, with a warning in the log;
        the shells show the same note from `ChatSettings.usable` where the user is looking."""
        if request.conversation_id is None or request.options.history or not self.store.exists(
                request.conversation_id):
            return request.options  # an unknown conversation is reported by `history` below, in one line
        chat, notes = self.store.chat_settings(request.conversation_id).usable(self.has_model)
        for note in notes:
            log.warning("conversation %s: %s", request.conversation_id[:8], note)
        return chat_options(chat, request.options)

    def has_model(self, model_id: str) -> bool:
        try:
            self.registry.get(model_id)
        except ModelNotFound:
            return False
        return True

    def params(self, options: AskOptions, routed: IntentParams) -> GenerationParams:
        return generation_params(options, routed, self.settings.max_tokens)

    def history(self, conversation_id: str | None) -> tuple[Message, ...]:
        if conversation_id is None:
            return ()
        if not self.store.exists(conversation_id):
            raise PromptError(f"no conversation {conversation_id!r}")
        return tuple(Message(m.role, m.content) for m in self.store.messages(conversation_id)
                     if m.role in ("user", "assistant") and m.content)

    def offered(self, decision: RouteDecision, options: AskOptions, prompt: str = "") -> tuple[Tool, ...]:
        """The tools the router offers this prompt (those it needs, core/routing/offers.py), plus the MCP tools the
        prompt's words fit (core/mcp/offer.py says why), only when the request carries a tool capability
        (AskOptions.tools)."""
        if options.tools is None or self.settings.tool_steps == 0:
            return ()
        names = [n for n in decision.tools if n != "web_fetch" or self.settings.web_fetch_enabled]
        registry = options.tools.registry
        return tuple(registry.offered(names)) + tuple(matching_tools(prompt, registry.all()))
