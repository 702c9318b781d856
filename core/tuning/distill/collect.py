"""The user's own answered prompts as distillation material: only when the `distill_enabled` setting allows it, never
from a conversation the user excluded (the store leaves those out), each with the check its text allows. The newest
prompts are held out to evaluate on, so the student is judged on what the user asks next, not on what it saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ...errors import DistillError
from ...storage.conversations import QAPair
from .checks import Check, infer_check

MAX_PROMPT_CHARS = 4000  # longer prompts do not fit the small student's training window with an answer


@dataclass(frozen=True, slots=True)
class Item:
    """One prompt to distil: its text and how answers to it are verified."""

    prompt: str
    check: Check


@dataclass(frozen=True, slots=True)
class Split:
    train: tuple[Item, ...]
    heldout: tuple[Item, ...]


def collect(pairs: Sequence[QAPair], *, enabled: bool) -> list[Item]:
    """Distinct prompts, oldest first (a prompt asked twice counts once, at its newest). Each is taken on its own,
    without the turns before it."""
    if not enabled:
        raise DistillError("distillation is turned off (setting distill_enabled = false)")
    newest: dict[str, int] = {}
    for pair in pairs:
        text = pair.prompt.strip()
        if text and len(text) <= MAX_PROMPT_CHARS:
            newest[text] = max(pair.prompt_id, newest.get(text, -1))
    return [Item(text, infer_check(text)) for text in sorted(newest, key=lambda t: newest[t])]


def split_newest(items: Sequence[Item], heldout_fraction: float) -> Split:
    """The newest `heldout_fraction` (at least one) held out; the rest to teach."""
    if not 0.0 < heldout_fraction < 1.0:
        raise DistillError(f"the held-out fraction must be between 0 and 1, not {heldout_fraction}")
    if len(items) < 2:
        raise DistillError(f"distillation needs at least 2 answered prompts, found {len(items)}")
    n = min(len(items) - 1, max(1, round(len(items) * heldout_fraction)))
    return Split(tuple(items[:-n]), tuple(items[-n:]))
