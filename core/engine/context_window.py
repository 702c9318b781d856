"""The context stage: the messages the model sees — system prompt, remembered facts, rolling summary and as many
earlier turns as fit the model's window with room left for the answer. It picks the backend (whose window and
tokenizer it measures with) but never generates."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..backends.base import Backend, GenerationParams, Message
from ..context.builder import ContextBuilder
from ..models.manifest import ModelSpec
from ..storage.conversations import ConversationStore
from .request import Request

# Remote servers do not tell us token counts up front; a conservative chars-per-token estimate trims for them.
CHARS_PER_TOKEN_ESTIMATE = 3.0
UNSTATED_WINDOW = 1_000_000  # a remote server that does not state its window trims for itself


def was_trimmed(messages: Sequence[Message], history: Sequence[Message]) -> bool:
    """Some earlier turns did not fit: the conversation is due a rolling summary."""
    shown = len(messages) - 1 - (1 if messages and messages[0].role == "system" else 0)
    return shown < len(history)


class ContextWindow:
    def __init__(self, builder: ContextBuilder, store: ConversationStore,
                 backend_for: Callable[[ModelSpec], Backend]) -> None:
        self.builder = builder
        self.store = store
        self.backend_for = backend_for

    def build(self, request: Request) -> list[Message]:
        """Set the request's backend and the messages it is sent."""
        plan = request.planned
        request.backend = self.backend_for(plan.spec)
        request.messages = self.messages(request.backend, plan.system, plan.history, request.prompt, plan.params,
                                         request.conversation_id)
        return request.messages

    def messages(self, backend: Backend, system: str, history: Sequence[Message], prompt: str,
                 params: GenerationParams, conversation_id: str | None = None) -> list[Message]:
        window = backend.context_window() or UNSTATED_WINDOW

        def count(messages: list[Message]) -> int:
            exact = backend.count_tokens(messages)
            if exact is not None:
                return exact
            return int(sum(len(m.content) + 8 for m in messages) / CHARS_PER_TOKEN_ESTIMATE)

        budget = window - min(params.max_tokens, max(window // 4, 1))
        summary = self.store.latest_summary(conversation_id) if conversation_id else None
        facts = self.store.memories(conversation_id)
        return self.builder.build(system, history, prompt, budget, count,
                                  summary=summary.content if summary else None, facts=facts)
