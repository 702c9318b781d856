"""The first stage: the prompt is text the engine can take (not empty, no NUL bytes, not huge) and the safety check
lets it through. It only judges: a refusal is answered and recorded by `recording.Recorder`."""

from __future__ import annotations

from ..errors import PromptError
from ..safety.verdict import Safety, Verdict
from .request import Request

MAX_PROMPT_CHARS = 1_000_000


def checked_prompt(prompt: str) -> str:
    """The prompt without surrounding whitespace; PromptError, naming what is wrong, when it cannot be answered."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise PromptError("the prompt is empty")
    if "\x00" in prompt:
        raise PromptError("the prompt contains NUL bytes; send text, not binary data")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise PromptError(f"the prompt has {len(prompt):,} characters; the limit is {MAX_PROMPT_CHARS:,}")
    return prompt.strip()


class InputCheck:
    def __init__(self, safety: Safety | None) -> None:
        self.safety = safety

    def check(self, request: Request) -> Verdict | None:
        """Clean `request.prompt` in place; the safety check's refusal, or None when the prompt may be answered (an
        app's own task over the user's material is not judged as a request: AskOptions.app_task)."""
        request.prompt = checked_prompt(request.prompt)
        if self.safety is None or request.options.app_task:
            return None
        verdict = self.safety.check_input(request.prompt)
        return verdict if not verdict.allowed else None
