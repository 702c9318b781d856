"""The "Chat settings" dialog: the current chat's model, temperature, system prompt and tools switch, and the saved
presets (apply one, save these settings as one, delete one). It edits values; the chat pane stores them and its
requests carry them (AskOptions), so nothing here talks to a model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from edgemind.core.engine import ChatSettings

from .context import AppContext

AUTO_MODEL = "Auto (router)"
AUTO_TEMPERATURE = "Auto (by intent)"
# The spin box's minimum stands for "unset" (shown as AUTO_TEMPERATURE): one step below 0, which stays a real value.
TEMPERATURE_STEP = 0.05
UNSET_TEMPERATURE = -TEMPERATURE_STEP


class ChatSettingsDialog(QDialog):
    """Non-modal: the chat pane opens it, and reads `value()` when the user saves."""

    presets_did_change = Signal(list)  # the saved presets, after a save or delete went through (tests wait on it)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Chat settings")
        self.presets: list[Any] = []  # core Preset objects, by name
        self.model = QComboBox()
        self.model.setToolTip("Which model answers in this chat: Auto lets the router choose by intent")
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(UNSET_TEMPERATURE, 2.0)
        self.temperature.setSingleStep(TEMPERATURE_STEP)
        self.temperature.setDecimals(2)
        self.temperature.setSpecialValueText(AUTO_TEMPERATURE)
        self.temperature.setToolTip("0 gives the same answer every time; higher is more varied (up to 2). "
                                    "Auto: 0 for math, the intent's own value otherwise")
        self.system_prompt = QPlainTextEdit()
        self.system_prompt.setPlaceholderText("Empty: each kind of question gets EdgeMind's own system prompt")
        self.system_prompt.setFixedHeight(96)
        self.tools = QCheckBox("Let this chat use tools (each one still asks for permission)")
        self.notes = QLabel("")
        self.notes.setObjectName("errorText")
        self.notes.setWordWrap(True)
        self.notes.hide()
        form = QFormLayout()
        form.addRow("Model:", self.model)
        form.addRow("Temperature:", self.temperature)
        form.addRow("System prompt:", self.system_prompt)
        form.addRow("", self.tools)

        self.preset_picker = QComboBox()
        self.preset_picker.setMinimumWidth(160)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Fill in the chosen preset's settings (Save keeps them for this chat)")
        self.apply_button.clicked.connect(lambda: self.apply_preset(self.preset_picker.currentText()))
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(lambda: self.delete_preset(self.preset_picker.currentText()))
        self.save_preset_button = QPushButton("Save as preset…")
        self.save_preset_button.setToolTip("Keep these settings under a name, for other chats and "
                                           "`edgemind chat --preset NAME`")
        self.save_preset_button.clicked.connect(lambda: self.save_preset())
        presets_row = QHBoxLayout()
        presets_row.addWidget(QLabel("Preset:"))
        presets_row.addWidget(self.preset_picker, 1)
        presets_row.addWidget(self.apply_button)
        presets_row.addWidget(self.delete_button)
        presets_row.addWidget(self.save_preset_button)
        self.preset_status = QLabel("")
        self.preset_status.setObjectName("hint")

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.notes)
        layout.addLayout(form)
        layout.addLayout(presets_row)
        layout.addWidget(self.preset_status)
        layout.addWidget(self.buttons)
        self._fill_presets([])
        self.resize(560, 380)

    # ---- values -----------------------------------------------------------------------------------------------
    def set_models(self, model_ids: Sequence[str]) -> None:
        chosen = self.model.currentData()
        self.model.clear()
        self.model.addItem(AUTO_MODEL, None)
        for model_id in model_ids:
            self.model.addItem(model_id, model_id)
        self._choose_model(chosen)

    def _choose_model(self, model_id: str | None) -> None:
        index = self.model.findData(model_id)
        if index < 0:  # a model the list does not hold (yet): shown as it is, the request says if it is gone
            self.model.addItem(model_id or AUTO_MODEL, model_id)
            index = self.model.count() - 1
        self.model.setCurrentIndex(index)

    def set_value(self, chat: ChatSettings, notes: Sequence[str] = ()) -> None:
        """Show a ChatSettings, with the lines saying what fell back to its default and why."""
        self._choose_model(chat.model)
        self.temperature.setValue(UNSET_TEMPERATURE if chat.temperature is None else float(chat.temperature))
        self.system_prompt.setPlainText(chat.system_prompt or "")
        self.tools.setChecked(bool(chat.tools))
        self.show_notes(notes)

    def show_notes(self, notes: Sequence[str]) -> None:
        self.notes.setText("\n".join(notes))
        self.notes.setVisible(bool(notes))

    def value(self) -> ChatSettings:
        """The settings as the form holds them (a ChatSettings; checked by whoever stores them)."""
        temperature = self.temperature.value()
        system = self.system_prompt.toPlainText()
        return ChatSettings(self.model.currentData(),
                            None if temperature <= UNSET_TEMPERATURE + 1e-9 else round(temperature, 2),
                            system if system.strip() else None, self.tools.isChecked())

    # ---- presets ----------------------------------------------------------------------------------------------
    def load_presets(self) -> None:
        self.ctx.ops.run("list presets", lambda: self.ctx.engine_in_worker().presets.list(), self._fill_presets,
                         self._preset_failed)

    def _fill_presets(self, presets: list[Any]) -> None:
        self.presets = list(presets)
        current = self.preset_picker.currentText()
        self.preset_picker.clear()
        for preset in self.presets:
            self.preset_picker.addItem(preset.name)
        if current:
            self.preset_picker.setCurrentText(current)
        has_any = bool(self.presets)
        self.preset_picker.setEnabled(has_any)
        self.apply_button.setEnabled(has_any)
        self.delete_button.setEnabled(has_any)
        if not has_any:
            self.preset_picker.setPlaceholderText("No presets saved yet")

    def preset_names(self) -> list[str]:
        return [p.name for p in self.presets]

    def apply_preset(self, name: str) -> None:
        preset = next((p for p in self.presets if p.name == name), None)
        if preset is None:
            return
        self.set_value(preset.settings)
        self.preset_status.setText(f"Preset “{name}” filled in: Save keeps it for this chat.")

    def save_preset(self, name: str | None = None) -> None:
        if name is None:
            name, ok = QInputDialog.getText(self, "Save as preset", "Preset name:",
                                            text=self.preset_picker.currentText())
            if not ok:
                return
        chat = self.value()
        self.ctx.ops.run("save preset", lambda: self.ctx.engine_in_worker().presets.save(name, chat),
                         lambda preset: self._preset_done(f"Saved preset “{preset.name}”.", preset.name),
                         self._preset_failed)

    def delete_preset(self, name: str) -> None:
        if not name:
            return
        self.ctx.ops.run("delete preset", lambda: self.ctx.engine_in_worker().presets.delete(name),
                         lambda _r: self._preset_done(f"Deleted preset “{name}”.", None), self._preset_failed)

    def _preset_done(self, message: str, select: str | None) -> None:
        self.preset_status.setText(message)

        def refill(presets: list[Any]) -> None:
            self._fill_presets(presets)
            if select:
                self.preset_picker.setCurrentText(select)
            self.presets_did_change.emit(list(presets))

        self.ctx.ops.run("list presets", lambda: self.ctx.engine_in_worker().presets.list(), refill,
                         self._preset_failed)

    def _preset_failed(self, exc: Any) -> None:
        self.preset_status.setText(str(exc) or exc.__class__.__name__)
        self.presets_did_change.emit(list(self.presets))
