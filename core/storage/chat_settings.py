"""Per-chat settings (model, temperature, system prompt, tools on or off) and the named presets that hold the same
settings: the plain data, its checks and the presets table. A conversation's own settings are columns of its row
(conversations.py); what a request runs is decided by the planner (core/engine/route_plan.py), never here."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, String, Text, select, true
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from ..errors import ChatSettingsError, StoreError
from .schema import Base

TEMPERATURE_MIN, TEMPERATURE_MAX = 0.0, 2.0  # the range `edgemind ask --temperature` accepts
MAX_SYSTEM_PROMPT_CHARS = 8000  # a system prompt longer than a small model's whole window is a mistake, not a wish
MAX_PRESET_NAME_CHARS = 60
MAX_MODEL_ID_CHARS = 200  # the width of the stored column


def _now() -> datetime:
    return datetime.now(UTC)


def check_temperature(value: Any) -> float:
    """A sampling temperature from 0 to 2, or ChatSettingsError naming the value."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ChatSettingsError(f"temperature {value!r} is not a number; give one from 0 to 2") from None
    if not (math.isfinite(number) and TEMPERATURE_MIN <= number <= TEMPERATURE_MAX):
        raise ChatSettingsError(f"temperature {value!r} is out of range; give one from 0 to 2")
    return number


def check_preset_name(name: str) -> str:
    """One line of at most 60 characters, spaces collapsed: how a preset is named in menus and on the command line."""
    cleaned = " ".join(str(name).split())
    if not cleaned:
        raise ChatSettingsError("a preset needs a name")
    if len(cleaned) > MAX_PRESET_NAME_CHARS:
        raise ChatSettingsError(f"a preset name has at most {MAX_PRESET_NAME_CHARS} characters")
    return cleaned


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """What one chat asks for; None leaves the choice to the router (model), the routed intent (temperature: math
    answers at 0; the system prompt)."""

    model: str | None = None
    temperature: float | None = None
    system_prompt: str | None = None
    tools: bool = True  # False: the chat's requests are offered no tool, whatever the shell allows

    def checked(self) -> ChatSettings:
        """These settings, normalised (blank means unset), or ChatSettingsError with one line naming the bad value."""
        model = (self.model or "").strip() or None
        if model is not None and len(model) > MAX_MODEL_ID_CHARS:
            raise ChatSettingsError(f"a model id has at most {MAX_MODEL_ID_CHARS} characters")
        temperature = None if self.temperature is None else check_temperature(self.temperature)
        system = self.system_prompt if self.system_prompt and self.system_prompt.strip() else None
        if system is not None and len(system) > MAX_SYSTEM_PROMPT_CHARS:
            raise ChatSettingsError(f"the system prompt has {len(system)} characters; keep it under "
                                    f"{MAX_SYSTEM_PROMPT_CHARS}")
        return ChatSettings(model, temperature, system, bool(self.tools))

    def usable(self, has_model: Callable[[str], bool]) -> tuple[ChatSettings, tuple[str, ...]]:
        """These settings with what can no longer be used put back to its default, and one line per such change
        (a model removed since the chat chose it; a temperature a hand-edited database holds out of range): the
        chat goes on, and the shell shows why it answers differently."""
        notes: list[str] = []
        settings = self
        if self.model is not None and not has_model(self.model):
            notes.append(f"model {self.model!r} is not installed any more: Auto chooses instead")
            settings = replace(settings, model=None)
        if self.temperature is not None:
            try:
                check_temperature(self.temperature)
            except ChatSettingsError as exc:
                notes.append(f"{exc}: the intent's default is used")
                settings = replace(settings, temperature=None)
        return settings, tuple(notes)

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "temperature": self.temperature, "system_prompt": self.system_prompt,
                "tools": self.tools}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChatSettings:
        unknown = sorted(set(data) - {"model", "temperature", "system_prompt", "tools"})
        if unknown:
            raise ChatSettingsError(f"unknown chat setting {unknown[0]!r}; known: model, temperature, "
                                    "system_prompt, tools")
        return cls(data.get("model"), data.get("temperature"), data.get("system_prompt"),
                   bool(data.get("tools", True))).checked()


DEFAULT_CHAT = ChatSettings()


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    settings: ChatSettings


class PresetRow(Base):
    """A saved preset: a name and the chat settings it applies."""

    __tablename__ = "chat_presets"
    name: Mapped[str] = mapped_column(String(MAX_PRESET_NAME_CHARS), primary_key=True)
    model: Mapped[str | None] = mapped_column(String(MAX_MODEL_ID_CHARS), nullable=True)
    temperature: Mapped[float | None] = mapped_column(Float, nullable=True)
    system_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    tools: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


def _preset(row: PresetRow) -> Preset:
    return Preset(row.name, ChatSettings(row.model, row.temperature, row.system_prompt, row.tools))


class PresetStore:
    """Saved presets in the database: list, look up, save (a same-named one is replaced) and delete."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def all(self) -> list[Preset]:
        with self._sessions() as s:
            return [_preset(r) for r in s.scalars(select(PresetRow).order_by(PresetRow.name))]

    def get(self, name: str) -> Preset:
        wanted = check_preset_name(name)
        with self._sessions() as s:
            row = s.get(PresetRow, wanted)
            if row is not None:
                return _preset(row)
            known = ", ".join(s.scalars(select(PresetRow.name).order_by(PresetRow.name))) or "none saved yet"
        raise ChatSettingsError(f"no preset {wanted!r}; presets: {known}")

    def save(self, name: str, settings: ChatSettings) -> Preset:
        preset = Preset(check_preset_name(name), settings.checked())

        def write(s: Session) -> None:
            row = s.get(PresetRow, preset.name) or PresetRow(name=preset.name)
            c = preset.settings
            row.model, row.temperature, row.system_prompt, row.tools = (c.model, c.temperature, c.system_prompt,
                                                                        c.tools)
            row.updated_at = _now()
            s.add(row)

        self._write(write)
        return preset

    def delete(self, name: str) -> None:
        wanted = check_preset_name(name)

        def write(s: Session) -> None:
            row = s.get(PresetRow, wanted)
            if row is None:
                raise ChatSettingsError(f"no preset {wanted!r}")
            s.delete(row)

        self._write(write)

    def _write(self, fn: Callable[[Session], None]) -> None:
        try:
            with self._sessions.begin() as s:
                fn(s)
        except SQLAlchemyError as exc:
            raise StoreError(f"could not write the presets: {exc.__class__.__name__}") from None
