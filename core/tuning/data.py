"""Training data for a tune: JSONL read and checked line by line, a held-out split, and the tokens LoRA learns from.

Each line is {"messages": [{"role", "content"}, ...]} (chat format; the last message is the assistant's answer) or
{"prompt": str, "answer": str}. A bad line is refused with one line naming it; nothing is trained on half a file.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import TuneDataError

ROLES = ("system", "user", "assistant")
MIN_EXAMPLES = 4  # one held out and three to train on: fewer cannot show whether the tune learned anything
IGNORE = -100  # the label torch's cross-entropy skips: the prompt's tokens teach nothing


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True, slots=True)
class Example:
    """One training pair: the conversation up to the answer, and the assistant's answer the model should give."""

    messages: tuple[Message, ...]
    answer: str
    line: int = 0  # where it came from, for errors that name it (0: built in code, e.g. by distillation)

    @classmethod
    def from_prompt(cls, prompt: str, answer: str, line: int = 0) -> Example:
        return cls((Message("user", prompt),), answer, line)

    def chat(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in self.messages]


@dataclass(frozen=True, slots=True)
class Encoded:
    """An example as token ids, with labels that are IGNORE everywhere but the answer (and its end-of-turn)."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]


def read_jsonl(path: Path) -> list[Example]:
    """Every example of a JSONL file, or TuneDataError naming the file or the first bad line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TuneDataError(f"training data {path} does not exist") from None
    except IsADirectoryError:
        raise TuneDataError(f"training data {path} is a folder, not a JSONL file") from None
    except OSError as exc:
        raise TuneDataError(f"cannot read training data {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise TuneDataError(f"{path.name} line {line}: not UTF-8 text; training data is JSONL") from None
    examples = [parse_line(stripped, number, path.name)
                for number, stripped in ((n, line.strip()) for n, line in enumerate(text.splitlines(), 1))
                if stripped]
    if not examples:
        raise TuneDataError(f"{path.name} has no examples (one JSON object per line)")
    return examples


def parse_line(line: str, number: int, source: str = "data") -> Example:
    """One JSONL line as an Example; the error names the line and what is wrong with it."""
    where = f"{source} line {number}"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TuneDataError(f"{where}: not JSON ({exc.msg}); each line must be one JSON object") from None
    if not isinstance(obj, dict):
        raise TuneDataError(f"{where}: expected an object with \"messages\" or \"prompt\"/\"answer\", "
                            f"got {type(obj).__name__}")
    if "messages" in obj:
        return _chat_example(obj["messages"], number, where)
    if "prompt" in obj or "answer" in obj:
        prompt, answer = obj.get("prompt"), obj.get("answer")
        for key, value in (("prompt", prompt), ("answer", answer)):
            if not isinstance(value, str) or not value.strip():
                raise TuneDataError(f"{where}: \"{key}\" must be non-empty text")
        assert isinstance(prompt, str) and isinstance(answer, str)
        return Example.from_prompt(prompt, answer, number)
    raise TuneDataError(f"{where}: expected \"messages\" (chat format) or \"prompt\" and \"answer\"")


def _chat_example(messages: Any, number: int, where: str) -> Example:
    if not isinstance(messages, list) or len(messages) < 2:
        raise TuneDataError(f"{where}: \"messages\" must be a list of at least a user and an assistant message")
    parsed: list[Message] = []
    for index, message in enumerate(messages, 1):
        if not isinstance(message, dict):
            raise TuneDataError(f"{where}: message {index} is not an object with \"role\" and \"content\"")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise TuneDataError(f"{where}: message {index} has role {role!r}; expected one of {', '.join(ROLES)}")
        if not isinstance(content, str) or not content.strip():
            raise TuneDataError(f"{where}: message {index} has no text \"content\"")
        parsed.append(Message(str(role), content))
    if parsed[-1].role != "assistant":
        raise TuneDataError(f"{where}: the last message must be the assistant's answer (role \"assistant\")")
    if not any(m.role == "user" for m in parsed[:-1]):
        raise TuneDataError(f"{where}: no user message before the answer")
    return Example(tuple(parsed[:-1]), parsed[-1].content, number)


def split(examples: Sequence[Example], heldout_fraction: float = 0.15,
          seed: int = 0) -> tuple[list[Example], list[Example]]:
    """(train, held-out): a seeded shuffle, at least one held out and at least MIN_EXAMPLES - 1 left to train on."""
    if len(examples) < MIN_EXAMPLES:
        raise TuneDataError(f"too few examples: {len(examples)}; tuning needs at least {MIN_EXAMPLES} "
                            "(one is held out to measure the result)")
    if not 0.0 < heldout_fraction < 1.0:
        raise TuneDataError(f"held-out fraction {heldout_fraction} must be between 0 and 1")
    order = list(examples)
    random.Random(seed).shuffle(order)
    held = min(max(1, round(len(order) * heldout_fraction)), len(order) - (MIN_EXAMPLES - 1))
    return order[held:], order[:held]


def encode(example: Example, tokenizer: Any, max_tokens: int) -> Encoded:
    """Tokens of the prompt as the model's own chat template renders it, then the answer, which alone is learned.

    The answer's text is what the template puts after the generation prompt (the answer and its end-of-turn
    marker), so the model learns to stop where llama.cpp's chat handler expects it to."""
    chat = example.chat()
    prompt_text, answer_text = _render(chat, example.answer, tokenizer)
    prompt_ids = list(tokenizer(prompt_text, add_special_tokens=False)["input_ids"])
    answer_ids = list(tokenizer(answer_text, add_special_tokens=False)["input_ids"])
    total = len(prompt_ids) + len(answer_ids)
    if total > max_tokens:
        where = f"line {example.line}: " if example.line else ""
        raise TuneDataError(f"{where}example is {total} tokens, over the limit of {max_tokens}")
    return Encoded(tuple(prompt_ids + answer_ids), tuple([IGNORE] * len(prompt_ids) + answer_ids))


def _render(chat: list[dict[str, str]], answer: str, tokenizer: Any) -> tuple[str, str]:
    if getattr(tokenizer, "chat_template", None):
        prompt = str(tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True))
        full = str(tokenizer.apply_chat_template(chat + [{"role": "assistant", "content": answer}], tokenize=False))
        if full.startswith(prompt):
            return prompt, full[len(prompt):]
    # a base model without a chat template (or one that rewrites earlier turns): plain text, answer then end token
    prompt = "\n".join(m["content"] for m in chat) + "\n"
    return prompt, answer + (tokenizer.eos_token or "")
