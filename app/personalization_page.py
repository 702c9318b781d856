"""The Personalization group of the settings page: the tuned adapters (with their evaluation figures), removing
them, exporting them as a signed pack and importing one, and distillation from the user's answers in the background.

The same core services as `edgemind models remove`, `edgemind pack` and `edgemind distill run --background`; every
file, store and model step runs in a worker, so the page stays responsive.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from edgemind.core.engine import Models, Packs
from edgemind.core.settings import SETTINGS
from edgemind.core.tuning.packs import PackInfo

from .background_distill import (
    DistillChoice,
    RunFactory,
    RunSlot,
    engine_run_factory,
    run_in_worker,
    status_line,
)
from .context import AppContext

STATUS_EVERY_MS = 500  # how often the distillation's status line is read back while it runs
_FIGURES_SHOWN = 6


@dataclass(frozen=True, slots=True)
class AdapterRow:
    """One tuned adapter as the table shows it."""

    name: str
    base_model: str
    kind: str
    created: str
    evaluation: str


def evaluation_text(evaluation: dict[str, Any]) -> str:
    """The manifest's evaluation figures in one cell: `path=value` for each number or yes/no, nested keys joined by
    dots (the evaluation's shape differs between tune and distill, so it is read generically)."""
    figures: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{path}.{key}" if path else str(key))
        elif isinstance(value, bool):
            figures.append(f"{path}={'yes' if value else 'no'}")
        elif isinstance(value, int | float):
            figures.append(f"{path}={value:.4g}" if isinstance(value, float) else f"{path}={value}")

    walk(evaluation, "")
    more = len(figures) - _FIGURES_SHOWN
    return ", ".join(figures[:_FIGURES_SHOWN]) + (f" (+{more} more)" if more > 0 else "") if figures else "–"


def adapter_rows(models: Models) -> list[AdapterRow]:
    """The adapter models (an adapter whose base is gone is not a model, so not listed), with their manifests'
    figures."""
    rows = []
    for spec in models.list(include_ollama=False):
        if spec.adapter is None:
            continue
        manifest = models.adapter(spec.id)
        if manifest is None:
            continue
        rows.append(AdapterRow(spec.id, manifest.base_model, manifest.kind, manifest.created[:19].replace("T", " "),
                               evaluation_text(manifest.evaluation)))
    return rows


def ask_trust(parent: QWidget, info: PackInfo) -> bool:
    """The question before a pack from an unknown signer is imported: its fingerprint, to compare with the sender."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Import a pack from an unknown signer",
                      f"This pack is signed by a key you have not trusted yet:\n\n{info.manifest.fingerprint}\n\n"
                      "Trust it only if its sender confirms this fingerprint. Trusted, later packs from the same key "
                      "import without asking.", parent=parent)
    trust = box.addButton("Trust and import", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return box.clickedButton() is trust


def _first_line(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


class PersonalizationPage(QWidget):
    adapters_did_load = Signal(object)  # the AdapterRows shown (or the error): tests wait on it
    pack_did_finish = Signal(object)  # the PackManifest exported, the Imported, or the refusal (an Exception)
    distill_did_change = Signal(str)  # the distillation's state after Start, each status change, and Stop

    def __init__(self, ctx: AppContext, parent: QWidget | None = None, *, run_factory: RunFactory | None = None,
                 confirm_trust: Callable[[PackInfo], bool] | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.rows: list[AdapterRow] = []
        self._models: Models | None = None
        self._run_factory = run_factory or engine_run_factory(ctx)
        self._confirm_trust = confirm_trust or (lambda info: ask_trust(self, info))
        self._slot: RunSlot | None = None
        self._shown_state = ""
        self._just_done = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Id", "Base model", "Kind", "Created", "Evaluation"])
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setMinimumHeight(110)
        self.table.itemSelectionChanged.connect(self._sync_buttons)
        buttons = QHBoxLayout()
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.export_button = QPushButton("Export pack…")
        self.export_button.setToolTip("One signed file with the selected adapters and their figures, never your data")
        self.export_button.clicked.connect(lambda: self.export_pack())
        self.import_button = QPushButton("Import pack…")
        self.import_button.clicked.connect(lambda: self.import_pack())
        for w in (self.export_button, self.import_button, self.remove_button):
            buttons.addWidget(w)
        buttons.addStretch()
        self.note = QLabel("")
        self.note.setObjectName("hint")
        self.note.setWordWrap(True)

        self.distill_enabled = QCheckBox("Learn from my answers in the background")
        self.distill_enabled.setToolTip(SETTINGS["distill_enabled"].help)
        self.distill_enabled.setChecked(ctx.settings.distill_enabled)
        distill_row = QHBoxLayout()
        self.teacher = QComboBox()
        self.teacher.setToolTip("The bigger model whose verified answers are learnt")
        self.student = QComboBox()
        self.student.setToolTip("The model that learns (a LoRA adapter is tuned for it)")
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Works only while the computer is idle and on AC power; pauses when you use it")
        self.start_button.clicked.connect(self.start_distillation)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop_distillation)
        for label, combo in (("Teacher", self.teacher), ("Student", self.student)):
            distill_row.addWidget(QLabel(label))
            distill_row.addWidget(combo)
        distill_row.addWidget(self.start_button)
        distill_row.addWidget(self.stop_button)
        distill_row.addStretch()
        self.distill_status = QLabel(status_line(None))
        self.distill_status.setObjectName("hint")
        self.distill_status.setWordWrap(True)
        self.timer = QTimer(self)
        self.timer.setInterval(STATUS_EVERY_MS)
        self.timer.timeout.connect(self._show_status)

        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addWidget(self.note)
        layout.addWidget(self.distill_enabled)
        layout.addLayout(distill_row)
        layout.addWidget(self.distill_status)
        self._sync_buttons()
        ctx.hooks.models_did_change.connect(self.refresh)
        ctx.hooks.app_will_close.connect(self.stop_distillation)
        self.refresh()

    # ---- the adapters -----------------------------------------------------------------------------------------
    def _models_in_worker(self) -> Models:
        """The data folder's models, opened once in a worker (the store's lane: one at a time), without a model
        loaded. Adapters live in files, so the engine sees the same ones."""
        if self._models is None:
            self._models = Models.open(self.ctx.settings)
        return self._models

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802
        super().showEvent(event)
        self.refresh()  # `edgemind tune` or `pack import` may have run since the last look

    def refresh(self) -> None:
        def listed() -> tuple[list[AdapterRow], list[str]]:
            models = self._models_in_worker()
            local = sorted((m for m in models.list(include_ollama=False)
                            if m.backend == "llama_cpp" and m.adapter is None),
                           key=lambda m: (m.size_bytes or 0, m.id))  # smallest first: the usual student
            return adapter_rows(models), [m.id for m in local]

        self.ctx.ops.run("list adapters", listed, self._fill, self._failed)

    def _fill(self, result: tuple[list[AdapterRow], list[str]]) -> None:
        rows, local = result
        self.rows = rows
        self.table.setRowCount(len(rows))
        for row, r in enumerate(rows):
            for col, text in enumerate((r.name, r.base_model, r.kind, r.created, r.evaluation)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self._fill_models(local)
        listed = (f"{len(rows)} tuned adapter{'s' if len(rows) != 1 else ''}: each is a model of its own in the "
                  "model picker." if rows else
                  "No tuned adapters yet: `edgemind tune`, distillation or a pack adds one.")
        self.note.setText(f"{self._just_done} {listed}".strip())
        self._just_done = ""
        self._sync_buttons()
        self.adapters_did_load.emit(rows)

    def _fill_models(self, local: list[str]) -> None:
        for combo, preferred in ((self.teacher, self.ctx.settings.default_model), (self.student, None)):
            current = combo.currentText()
            combo.clear()
            combo.addItems(local)
            if current in local:
                combo.setCurrentText(current)
            elif preferred in local:
                combo.setCurrentText(preferred)
            elif combo is self.student and local:
                # the smallest model that is not the teacher (the list is smallest first)
                others = [m for m in local if m != self.teacher.currentText()]
                combo.setCurrentText((others or local)[0])

    def _failed(self, exc: Exception) -> None:
        self.note.setText(f"Not done: {_first_line(exc)}")
        self.adapters_did_load.emit(exc)

    def _changed(self, what: str) -> None:
        self.note.setText(what)
        self._just_done = what  # kept in front of the listing the refresh shows
        self.ctx.hooks.models_did_change.emit()  # this page refreshes too, as do the model lists

    def _sync_buttons(self) -> None:
        chosen = bool(self.selected_names())
        self.remove_button.setEnabled(chosen)
        self.export_button.setEnabled(chosen)
        running = self._slot is not None
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def selected_names(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self.rows[r].name for r in rows if r < len(self.rows)]

    def remove_selected(self) -> None:
        names = self.selected_names()
        if names:
            self.ctx.ops.run("remove adapter",
                             lambda: [self._models_in_worker().remove(n) for n in names],
                             lambda _done: self._changed(f"Removed {', '.join(names)}."), self._failed)

    # ---- packs ------------------------------------------------------------------------------------------------
    def _packs(self) -> Packs:
        """Opened for each pack step, in its worker: the service opens the data folder's registry itself."""
        return Packs.open(self.ctx.settings)

    def export_pack(self, path: str | None = None) -> None:
        """Export the selected adapters to `path` (or where a save dialog says, which already asked about replacing
        a file)."""
        names = self.selected_names()
        if not names:
            return
        overwrite = False
        if not path:
            suggested = str(Path.home() / f"{names[0]}{Packs.suffix}")
            path, _ = QFileDialog.getSaveFileName(self, "Export a personalization pack", suggested,
                                                  f"Personalization packs (*{Packs.suffix})")
            overwrite = True
        if path:
            out = Path(path)
            self.ctx.ops.run("export pack", lambda: self._packs().export(names, out, overwrite=overwrite),
                             lambda manifest: self._exported(out, manifest), self._pack_failed)

    def _exported(self, out: Path, manifest: Any) -> None:
        self.note.setText(f"Exported {len(manifest.adapters)} adapter{'s' if len(manifest.adapters) != 1 else ''} to "
                          f"{out}, signed by {manifest.fingerprint}.")
        self.pack_did_finish.emit(manifest)

    def import_pack(self, path: str | None = None) -> None:
        """Verify the pack in a worker; one from an unknown signer shows its fingerprint and asks before importing."""
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Import a personalization pack", "",
                                                  f"Personalization packs (*{Packs.suffix})")
        if path:
            pack = Path(path)
            self.note.setText(f"Checking {pack.name}…")
            self.ctx.ops.run("inspect pack", lambda: self._packs().inspect(pack),
                             lambda info: self._inspected(pack, info), self._pack_failed)

    def _inspected(self, pack: Path, info: PackInfo) -> None:
        trust = False
        if not info.trusted:
            if not self._confirm_trust(info):
                self.note.setText(f"Not imported: {pack.name} is signed by {info.manifest.fingerprint}, which you "
                                  "did not trust.")
                self.pack_did_finish.emit(None)
                return
            trust = True
        self.ctx.ops.run("import pack", lambda: self._packs().import_pack(pack, trust_signer=trust),
                         self._imported, self._pack_failed)

    def _imported(self, done: Any) -> None:
        trusted = f" Trusted signer {done.fingerprint} from now on." if done.newly_trusted else ""
        self._changed(f"Imported {', '.join(done.names)} (on {done.base_model}).{trusted}")
        self.pack_did_finish.emit(done)

    def _pack_failed(self, exc: Exception) -> None:
        self.note.setText(f"Not done: {_first_line(exc)}")
        self.pack_did_finish.emit(exc)

    # ---- background distillation ------------------------------------------------------------------------------
    def start_distillation(self) -> None:
        """Build the run in a worker and run it there until done or stopped; the status line follows it."""
        if self._slot is not None:
            return
        choice = DistillChoice(teacher=self.teacher.currentText(), student=self.student.currentText(),
                               out_name=distilled_name(self.student.currentText()))
        slot = self._slot = RunSlot()
        factory = self._run_factory
        self.distill_status.setText("Distillation: starting (loading the student)…")
        self.ctx.ops.submit("background distillation",
                            lambda cancel, _emit: run_in_worker(slot, factory, choice, lambda: cancel.cancelled),
                            lane="external", on_done=lambda result: self._ended(slot, result),
                            on_error=lambda exc: self._ended(slot, exc))
        self.timer.start()
        self._sync_buttons()
        self.distill_did_change.emit("starting")

    def stop_distillation(self) -> None:
        """Stop at once: a waiting run ends, a running mini-epoch pauses at its next check (its checkpoint kept)."""
        if self._slot is not None:
            self._slot.stop()
            self.distill_status.setText("Distillation: stopping…")

    def _show_status(self) -> None:
        status = self._slot.status if self._slot is not None else None
        if status is not None:
            self.distill_status.setText(status_line(status))
            if status.state != self._shown_state:
                self._shown_state = status.state
                self.distill_did_change.emit(status.state)

    def _ended(self, slot: RunSlot, result: Any) -> None:
        if slot is not self._slot:
            return
        self._slot = None
        self.timer.stop()
        if isinstance(result, Exception):
            line, state = f"Distillation not started: {_first_line(result)}", "error"
        else:
            status, kept = result
            line = status_line(status) if status is not None else "Distillation: stopped before it started."
            line = f"{line} {kept[:1].upper()}{kept[1:]}." if kept else line
            state = status.state if status is not None else "stopped"
            if kept:
                self.ctx.hooks.models_did_change.emit()
        self._shown_state = ""
        self.distill_status.setText(line)
        self._sync_buttons()
        self.distill_did_change.emit(state)


def distilled_name(student: str) -> str:
    """The adapter a background run makes for `student`: one per student, so a stopped run resumes by name."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", student.lower()).strip("-._") or "model"
    return f"{slug[:52]}-distilled"
