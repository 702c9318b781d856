"""Renders a model's chat template (from untrusted GGUF metadata) in a sandboxed Jinja environment.

The sandbox blocks attribute access to Python internals and mutation of our objects, so a hostile template can
format text but never run code or read files.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..errors import ModelError

# ChatML, used when a GGUF carries no template (many fine-tunes ship without one).
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
MAX_TEMPLATE_CHARS = 64 * 1024
MAX_RENDERED_CHARS = 4 * 1024 * 1024


class _TemplateRaised(Exception):
    pass


def _raise_exception(message: str) -> None:
    raise _TemplateRaised(message)


class ChatTemplate:
    def __init__(self, source: str | None, *, bos_token: str = "", eos_token: str = "", model_id: str = "") -> None:
        self.source = source or CHATML
        self.is_fallback = source is None
        self._model_id = model_id
        self._bos, self._eos = bos_token, eos_token
        if len(self.source) > MAX_TEMPLATE_CHARS:
            raise ModelError(f"model {model_id!r}: chat template is {len(self.source)} characters; refusing to use it")
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, autoescape=False)
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        try:
            self._template = env.from_string(self.source)
        except TemplateError as exc:
            raise ModelError(f"model {model_id!r}: chat template does not parse: {exc}") from None

    def render(self, messages: Sequence[Any], *, add_generation_prompt: bool = True) -> str:
        plain = [{"role": m.role, "content": m.content} for m in messages]
        try:
            text = self._template.render(
                messages=plain, add_generation_prompt=add_generation_prompt,
                bos_token=self._bos, eos_token=self._eos, tools=None,
            )
        except _TemplateRaised as exc:
            raise ModelError(f"model {self._model_id!r}: the chat template rejected the conversation: {exc}") from None
        except (TemplateError, TypeError, ValueError, RecursionError) as exc:
            raise ModelError(
                f"model {self._model_id!r}: chat template failed: {exc.__class__.__name__}: {exc}") from None
        if len(text) > MAX_RENDERED_CHARS:
            raise ModelError(f"model {self._model_id!r}: chat template produced {len(text):,} characters")
        return text
