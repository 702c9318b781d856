"""Settings and models: the models EdgeMind can use (bundled, added GGUF files, Ollama, OpenAI-compatible endpoints),
tool grants, MCP servers, threads, cache sizes and clearing, data folder, safety, start-up; saved to
`<data>/settings.toml` (MCP servers to `<data>/mcp.json`)."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from edgemind.core.settings import SETTINGS, load_settings, save_settings

from .context import AppContext
from .grants_page import GrantsPage
from .hotkey import QUICK_COMMAND, hotkey_note
from .mcp_page import McpPage
from .personalization_page import PersonalizationPage
from .wheel_guard import guard_wheel

# Keys this page edits: those declared with gui=True; ranges, help and env names come from the same declaration.
KEYS = tuple(name for name, spec in SETTINGS.items() if spec.gui)


def _spin(key: str, **options: Any) -> QSpinBox:
    spec = SETTINGS[key]
    if spec.minimum is None or spec.maximum is None:
        raise ValueError(f"setting {key} has no range to edit in a spin box")
    return QSpinBox(minimum=int(spec.minimum), maximum=int(spec.maximum), **options)


def _source(spec: Any) -> str:
    if spec.bundled:
        return "bundled"
    if getattr(spec, "adapter", None) is not None:
        return f"tuned adapter on {spec.base_model}"
    return {"llama_cpp": "GGUF file", "ollama": "Ollama", "openai": "OpenAI-compatible"}.get(spec.backend, spec.backend)


class OpenAIDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add an OpenAI-compatible endpoint")
        form = QFormLayout(self)
        self.url = QLineEdit(placeholderText="http://host:8000/v1")
        self.remote = QLineEdit(placeholderText="the model's name on that server")
        self.key = QLineEdit(placeholderText="optional")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.model_id = QLineEdit(placeholderText="optional: the id EdgeMind shows")
        for label, w in (("Base URL", self.url), ("Remote model", self.remote), ("API key", self.key),
                         ("Id", self.model_id)):
            form.addRow(label, w)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class SettingsPage(QWidget):
    settings_did_save = Signal(object)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.models: list[Any] = []
        self._build()
        self.load(ctx.settings)
        ctx.hooks.engine_did_start.connect(self._engine_started)
        ctx.hooks.models_did_change.connect(self.refresh_models)

    def _engine_started(self, _engine: object) -> None:
        self.refresh_models()
        self.refresh_cache_stats()

    # ---- layout -----------------------------------------------------------------------------------------------
    def _build(self) -> None:
        inner = QWidget()
        layout = QVBoxLayout(inner)

        models_box = QGroupBox("Models")
        models_layout = QVBoxLayout(models_box)
        self.models_table = QTableWidget(0, 4)
        self.models_table.setHorizontalHeaderLabels(["Id", "Source", "Size", "Where"])
        self.models_table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.models_table.verticalHeader().hide()
        self.models_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.models_table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.models_table.setMinimumHeight(140)
        model_buttons = QHBoxLayout()
        self.add_gguf_button = QPushButton("Add GGUF file…")
        self.add_gguf_button.clicked.connect(self.add_gguf)
        self.add_openai_button = QPushButton("Add OpenAI endpoint…")
        self.add_openai_button.clicked.connect(self.add_openai)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_model)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh_models)
        for b in (self.add_gguf_button, self.add_openai_button, self.remove_button, self.refresh_button):
            model_buttons.addWidget(b)
        model_buttons.addStretch()
        self.models_note = QLabel("Ollama models appear here when an Ollama server is running.")
        self.models_note.setObjectName("hint")
        models_layout.addWidget(self.models_table)
        models_layout.addLayout(model_buttons)
        models_layout.addWidget(self.models_note)

        gen_box = QGroupBox("Answers")
        gen = QFormLayout(gen_box)
        self.default_model = QComboBox()
        self.default_model.setEditable(True)
        self.threads = _spin("threads")
        self.threads.setSpecialValueText("physical cores")
        self.context_length = _spin("context_length", singleStep=1024)
        self.max_tokens = _spin("max_tokens", singleStep=64)
        self.router_enabled = QCheckBox("Choose the model by intent (router)")
        self.route_to_strongest = QCheckBox("Send math and code to the strongest installed model")
        self.safety_enabled = QCheckBox("Check prompts and answers for harmful content (see README)")
        gen.addRow("Default model", self.default_model)
        gen.addRow("Threads", self.threads)
        gen.addRow("Context length", self.context_length)
        gen.addRow("Longest answer (tokens)", self.max_tokens)
        gen.addRow(self.router_enabled)
        gen.addRow(self.route_to_strongest)
        gen.addRow(self.safety_enabled)

        cache_box = QGroupBox("Answer cache")
        cache = QFormLayout(cache_box)
        self.cache_enabled = QCheckBox("Reuse answers to identical questions")
        self.cache_memory_entries = _spin("cache_memory_entries")
        self.cache_disk_mb = _spin("cache_disk_mb", suffix=" MB")
        # the declaration has no upper bound; a spin box needs one, and 10**9 s is 31 years
        self.cache_ttl_seconds = QDoubleSpinBox(minimum=SETTINGS["cache_ttl_seconds"].minimum, maximum=10 ** 9,
                                                decimals=0, suffix=" s", singleStep=3600)
        self.cache_ttl_seconds.setSpecialValueText("never expire")
        clear_row = QHBoxLayout()
        self.clear_cache_button = QPushButton("Clear cache")
        self.clear_cache_button.clicked.connect(self.clear_cache)
        self.cache_stats = QLabel("")
        self.cache_stats.setObjectName("hint")
        clear_row.addWidget(self.clear_cache_button)
        clear_row.addWidget(self.cache_stats, 1)
        cache.addRow(self.cache_enabled)
        cache.addRow("In memory (answers)", self.cache_memory_entries)
        cache.addRow("On disk", self.cache_disk_mb)
        cache.addRow("Keep for", self.cache_ttl_seconds)
        cache.addRow(clear_row)

        app_box = QGroupBox("Start-up and data")
        app_form = QFormLayout(app_box)
        self.close_to_tray = QCheckBox("Closing the window keeps EdgeMind in the tray")
        self.start_in_tray = QCheckBox("Start in the tray, without the window")
        self.quick_ask_hotkey = QLineEdit()
        self.quick_ask_hotkey.setToolTip(SETTINGS["quick_ask_hotkey"].help)
        self.quick_ask_hotkey.setMaximumWidth(240)
        folder_row = QHBoxLayout()
        self.data_folder = QLabel(str(self.ctx.settings.home))
        self.data_folder.setObjectName("hint")
        open_folder = QPushButton("Open")
        open_folder.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.ctx.settings.home))))
        folder_row.addWidget(self.data_folder, 1)
        folder_row.addWidget(open_folder)
        self.api_server_enabled = QCheckBox(
            f"Serve the OpenAI and Ollama API to other apps on this computer (127.0.0.1:{self.ctx.settings.api_port})")
        self.api_server_status = QLabel(f"Off. Apps need the API key in {self.ctx.settings.home / 'api_key'}.")
        self.api_server_status.setObjectName("hint")
        self.api_server_status.setWordWrap(True)
        self.ctx.hooks.api_server_did_change.connect(self._api_server_changed)
        app_form.addRow(self.close_to_tray)
        app_form.addRow(self.start_in_tray)
        app_form.addRow("Quick-ask shortcut", self.quick_ask_hotkey)
        note = hotkey_note(sys.platform, os.environ, self.ctx.settings.quick_ask_hotkey)
        self.hotkey_hint = QLabel(note or "Opens quick ask from any app while EdgeMind runs (applies at the next "
                                  f"start). `{QUICK_COMMAND}` opens it too.")
        self.hotkey_hint.setObjectName("hint")
        self.hotkey_hint.setWordWrap(True)
        app_form.addRow(self.hotkey_hint)
        app_form.addRow(self.api_server_enabled)
        app_form.addRow(self.api_server_status)
        app_form.addRow("Data folder", folder_row)
        app_form.addRow(QLabel("To move the data folder, set EDGEMIND_HOME before starting EdgeMind."))

        grants_box = QGroupBox("Tool grants")
        grants_layout = QVBoxLayout(grants_box)
        self.grants = GrantsPage(self.ctx)
        grants_layout.addWidget(self.grants)

        mcp_box = QGroupBox("MCP servers (tools from other programs)")
        mcp_layout = QVBoxLayout(mcp_box)
        self.mcp = McpPage(self.ctx)
        mcp_layout.addWidget(self.mcp)

        personal_box = QGroupBox("Personalization (tuned adapters, packs, learning from your answers)")
        personal_layout = QVBoxLayout(personal_box)
        self.personalization = PersonalizationPage(self.ctx)
        personal_layout.addWidget(self.personalization)
        self.distill_enabled = self.personalization.distill_enabled  # a setting this page saves

        layout.addWidget(models_box)
        layout.addWidget(personal_box)
        layout.addWidget(grants_box)
        layout.addWidget(mcp_box)
        layout.addWidget(gen_box)
        layout.addWidget(cache_box)
        layout.addWidget(app_box)
        layout.addStretch()
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(inner)
        self.wheel_guard = guard_wheel(inner, self.scroll_area)
        save_row = QHBoxLayout()
        self.status = QLabel("")
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        save_row.addWidget(self.status, 1)
        save_row.addWidget(self.save_button)
        outer = QVBoxLayout(self)
        outer.addWidget(self.scroll_area, 1)
        outer.addLayout(save_row)
        for key in KEYS:  # every key this page edits has a widget of its name
            getattr(self, key).setToolTip(SETTINGS[key].help)

    # ---- values -----------------------------------------------------------------------------------------------
    def load(self, settings: Any) -> None:
        if self.default_model.findText(settings.default_model) < 0:
            self.default_model.addItem(settings.default_model)
        self.default_model.setCurrentText(settings.default_model)
        self.threads.setValue(settings.threads)
        self.context_length.setValue(settings.context_length)
        self.max_tokens.setValue(settings.max_tokens)
        self.router_enabled.setChecked(settings.router_enabled)
        self.route_to_strongest.setChecked(settings.route_to_strongest)
        self.safety_enabled.setChecked(settings.safety_enabled)
        self.distill_enabled.setChecked(settings.distill_enabled)
        self.cache_enabled.setChecked(settings.cache_enabled)
        self.cache_memory_entries.setValue(settings.cache_memory_entries)
        self.cache_disk_mb.setValue(settings.cache_disk_mb)
        self.cache_ttl_seconds.setValue(float(settings.cache_ttl_seconds))
        self.close_to_tray.setChecked(settings.close_to_tray)
        self.start_in_tray.setChecked(settings.start_in_tray)
        self.quick_ask_hotkey.setText(settings.quick_ask_hotkey)
        self.api_server_enabled.setChecked(settings.api_server_enabled)

    def values(self) -> dict[str, Any]:
        ttl = self.cache_ttl_seconds.value()
        return {
            "default_model": self.default_model.currentText().strip(), "threads": self.threads.value(),
            "context_length": self.context_length.value(), "max_tokens": self.max_tokens.value(),
            "router_enabled": self.router_enabled.isChecked(), "safety_enabled": self.safety_enabled.isChecked(),
            "route_to_strongest": self.route_to_strongest.isChecked(),
            "cache_enabled": self.cache_enabled.isChecked(), "cache_memory_entries": self.cache_memory_entries.value(),
            "cache_disk_mb": self.cache_disk_mb.value(), "cache_ttl_seconds": int(ttl) if ttl.is_integer() else ttl,
            "close_to_tray": self.close_to_tray.isChecked(), "start_in_tray": self.start_in_tray.isChecked(),
            "quick_ask_hotkey": self.quick_ask_hotkey.text().strip(),
            "api_server_enabled": self.api_server_enabled.isChecked(),
            "distill_enabled": self.distill_enabled.isChecked(),
        }

    def save(self) -> None:
        values = self.values()
        home = self.ctx.settings.home

        def write() -> Any:
            path = save_settings(home, values)
            return path, load_settings(env={"EDGEMIND_HOME": str(home)})  # the file as saved, no env overrides

        self.ctx.ops.run("save settings", write, self._saved, lambda exc: self.status.setText(f"Not saved: {exc}"))

    def _saved(self, result: Any) -> None:
        path, settings = result
        specs = {k: SETTINGS[k] for k in KEYS}
        overridden = [f"{k} ({s.env})" for k, s in specs.items() if s.env and os.environ.get(s.env)]
        note = f" Set in the environment, so not in effect: {', '.join(overridden)}." if overridden else ""
        self.status.setText(f"Saved to {path}. Close to tray, the API server and learning from your answers apply "
                            f"now; the rest when EdgeMind starts next.{note}")
        self.ctx.settings = replace(self.ctx.settings, close_to_tray=settings.close_to_tray,
                                    start_in_tray=settings.start_in_tray,
                                    api_server_enabled=settings.api_server_enabled,
                                    distill_enabled=settings.distill_enabled)
        self.ctx.apply_api_server(settings.api_server_enabled)
        self.settings_did_save.emit(settings)
        self.ctx.hooks.settings_did_save.emit(settings)

    def _api_server_changed(self, state: str) -> None:
        key_file = self.ctx.settings.home / "api_key"
        if state.startswith("http"):
            self.api_server_status.setText(f"Serving {state}/v1 (OpenAI) and {state}/api (Ollama); the API key is "
                                           f"in {key_file} (or EDGEMIND_API_KEY).")
        elif state:
            self.api_server_status.setText(f"The API server is {state}")
        else:
            self.api_server_status.setText(f"Off. Apps need the API key in {key_file}.")

    # ---- models -----------------------------------------------------------------------------------------------
    def refresh_models(self) -> None:
        self.ctx.ops.run("list models", lambda: self.ctx.engine_in_worker().models.list(), self._fill_models,
                         lambda exc: self.models_note.setText(f"Could not list models: {exc}"))

    def _fill_models(self, models: list[Any]) -> None:
        self.models = models
        self.models_table.setRowCount(len(models))
        for row, m in enumerate(models):
            size = f"{m.size_bytes / 1e6:,.0f} MB" if m.size_bytes else "–"
            where = str(m.adapter or m.path) if m.path else (m.endpoint or "")
            for col, text in enumerate((m.id, _source(m), size, where)):
                self.models_table.setItem(row, col, QTableWidgetItem(text))
            if self.default_model.findText(m.id) < 0:
                self.default_model.addItem(m.id)
        self.models_table.resizeColumnsToContents()
        self.models_note.setText(f"{len(models)} models. Ollama models appear when an Ollama server is running.")

    def add_gguf(self, path: str | None = None) -> None:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Add a GGUF model", "", "GGUF models (*.gguf)")
        if path:
            self.models_note.setText(f"Checking and hashing {Path(path).name}…")
            self.ctx.ops.run("add model", lambda: self.ctx.engine_in_worker().models.add_gguf(Path(path)),
                             lambda spec: self._model_changed(f"Added {spec.id}."), self._model_failed)

    def add_openai(self) -> None:
        dialog = OpenAIDialog(self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        url, remote, key, model_id = (dialog.url.text().strip(), dialog.remote.text().strip(),
                                      dialog.key.text().strip() or None, dialog.model_id.text().strip() or None)
        self.ctx.ops.run("add endpoint",
                         lambda: self.ctx.engine_in_worker().models.add_openai(url, remote, key, model_id),
                         lambda spec: self._model_changed(f"Added {spec.id}."), self._model_failed)

    def remove_model(self) -> None:
        row = self.models_table.currentRow()
        if 0 <= row < len(self.models):
            model_id = self.models[row].id
            self.ctx.ops.run("remove model", lambda: self.ctx.engine_in_worker().models.remove(model_id),
                             self._model_changed, self._model_failed)

    def _model_changed(self, message: str) -> None:
        self.models_note.setText(message)
        self.ctx.hooks.models_did_change.emit()  # this table refreshes, and the adapters' table

    def _model_failed(self, exc: Exception) -> None:
        self.models_note.setText(f"Not done: {exc}")

    # ---- cache ------------------------------------------------------------------------------------------------
    def refresh_cache_stats(self) -> None:
        def stats() -> str:
            cache = self.ctx.engine_in_worker().cache_admin
            if not cache.available:
                return "The cache is off."
            s = cache.stats()
            return f"{s['entries']} answers, {s['bytes'] / 1e6:.2f} MB on disk, {s['hits']} hits"

        self.ctx.ops.run("cache stats", stats, self.cache_stats.setText)

    def clear_cache(self) -> None:
        def clear() -> int:
            return self.ctx.engine_in_worker().cache_admin.clear()

        def cleared(n: int) -> None:
            self.cache_stats.setText(f"Cleared {n} answers.")
            self.refresh_cache_stats()

        self.ctx.ops.run("clear cache", clear, cleared)
