"""The Personalization group: tuned adapters listed with their figures, removed, exported as a signed pack and imported
back (a tampered or untrusted pack refused with one line, nothing imported), and background distillation started and
stopped through the real scheduler (fast probes and policy injected through its constructor, no teacher run)."""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edgemind.app.background_distill import BackgroundRun, DistillChoice
from edgemind.app.context import AppContext
from edgemind.app.personalization_page import PersonalizationPage, evaluation_text
from edgemind.core.engine import Models, Packs
from edgemind.core.models.adapters import AdapterManifest, AdapterStore
from edgemind.core.models.integrity import sha256_file
from edgemind.core.settings import Settings, load_settings
from edgemind.core.tuning.distill.scheduler import BackgroundDistiller, EpochResult, Policy, Probes
from edgemind.core.tuning.packs import PackInfo
from tests.conftest import TINY
from tests.support.lora_files import write_lora

TINY_FILE = "smollm2-135m-instruct-q4_1.gguf"
EVALUATION = {"heldout": {"loss_before": 3.25, "loss_after": 1.5}, "no_regression": True}


@pytest.fixture(scope="module")
def lora_file(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_lora(tmp_path_factory.mktemp("lora") / "adapter.gguf", models_dir / TINY_FILE, scale=0.5)


def add_adapter(settings: Settings, name: str, file: Path) -> None:
    """Registered as `edgemind tune` leaves one: through the model registry, pinned to the installed base."""
    models = Models.open(settings)
    base = models.get(TINY).sha256
    assert base
    models.add_adapter(AdapterManifest(name=name, base_model=TINY, base_sha256=base,
                                       adapter_sha256=sha256_file(file), rank=4, alpha=8.0, kind="tune",
                                       data_summary={"examples": 12}, evaluation=EVALUATION), file)


class Asked:
    """The trust question's answers, recorded: what the user would click."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.fingerprints: list[str] = []

    def __call__(self, info: PackInfo) -> bool:
        self.fingerprints.append(info.manifest.fingerprint)
        return self.answer


def make_page(qtbot, settings: Settings, **kwargs: object) -> PersonalizationPage:  # type: ignore[no-untyped-def]
    ctx = AppContext(settings)
    page = PersonalizationPage(ctx, **kwargs)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.note.text() != "", timeout=30_000)  # its first listing is in
    return page


@pytest.fixture
def asked() -> Asked:
    return Asked(False)


@pytest.fixture
def page(qtbot, settings: Settings, asked: Asked) -> Iterator[PersonalizationPage]:  # type: ignore[no-untyped-def]
    shown = make_page(qtbot, settings, confirm_trust=asked)
    yield shown
    shown.ctx.shutdown()


def names(page: PersonalizationPage) -> list[str]:
    return [page.table.item(r, 0).text() for r in range(page.table.rowCount())]


def reload(qtbot, page: PersonalizationPage) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(page.adapters_did_load, timeout=30_000):
        page.refresh()


def select(page: PersonalizationPage, name: str) -> None:
    page.table.selectRow(names(page).index(name))


def finish(qtbot, page: PersonalizationPage, action: Callable[[], None]) -> object:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(page.pack_did_finish, timeout=60_000) as blocker:
        action()
    return blocker.args[0]


def test_the_table_lists_a_registered_adapter_with_its_figures(qtbot, page: PersonalizationPage, lora_file: Path,
                                                               shot) -> None:  # type: ignore[no-untyped-def]
    assert names(page) == []
    add_adapter(page.ctx.settings, "my-style", lora_file)
    reload(qtbot, page)
    row = [page.table.item(0, c).text() for c in range(page.table.columnCount())]
    assert row[:3] == ["my-style", TINY, "tune"]
    assert row[3][:4].isdigit()  # the date it was created
    assert "heldout.loss_after=1.5" in row[4] and "no_regression=yes" in row[4]
    assert page.note.text().startswith("1 tuned adapter:")
    assert TINY in page.student.currentText() or page.student.count() >= 1
    page.resize(900, 420)
    shot(page, "personalization-page")


def test_remove_takes_the_adapter_out_of_the_models(qtbot, page: PersonalizationPage, lora_file: Path) -> None:
    add_adapter(page.ctx.settings, "gone-soon", lora_file)
    reload(qtbot, page)
    select(page, "gone-soon")
    assert page.remove_button.isEnabled()
    with qtbot.waitSignal(page.adapters_did_load, timeout=30_000):
        page.remove_selected()  # the page refreshes itself once removed
    assert names(page) == []
    assert page.note.text().startswith("Removed gone-soon. No tuned adapters yet")
    assert AdapterStore(page.ctx.settings.home).get("gone-soon") is None
    assert "gone-soon" not in [m.id for m in Models.open(page.ctx.settings).list(include_ollama=False)]


def test_a_pack_exports_and_imports_back_through_the_page(qtbot, page: PersonalizationPage, lora_file: Path,
                                                          tmp_path: Path, asked: Asked) -> None:
    add_adapter(page.ctx.settings, "round-trip", lora_file)
    reload(qtbot, page)
    select(page, "round-trip")
    out = tmp_path / "round-trip.empack"
    finish(qtbot, page, lambda: page.export_pack(str(out)))
    assert out.is_file() and "Exported 1 adapter" in page.note.text()
    with qtbot.waitSignal(page.adapters_did_load, timeout=30_000):
        page.remove_selected()
    assert names(page) == []
    done = finish(qtbot, page, lambda: page.import_pack(str(out)))
    assert not isinstance(done, Exception), done
    reload(qtbot, page)
    assert names(page) == ["round-trip"]
    assert page.table.item(0, 2).text() == "pack"  # imported adapters say where they came from
    assert asked.fingerprints == []  # our own pack: nothing to ask


def test_a_tampered_pack_is_refused_in_one_line_and_imports_nothing(qtbot, page: PersonalizationPage,
                                                                    lora_file: Path, tmp_path: Path) -> None:
    add_adapter(page.ctx.settings, "tampered", lora_file)
    reload(qtbot, page)
    select(page, "tampered")
    out = tmp_path / "t.empack"
    finish(qtbot, page, lambda: page.export_pack(str(out)))
    with zipfile.ZipFile(out) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    gguf_member = next(n for n in members if n.endswith(".gguf"))
    changed = bytearray(members[gguf_member])
    changed[-10] ^= 0x01  # one bit of one weight: same size, valid zip, the signed SHA-256 no longer holds
    members[gguf_member] = bytes(changed)
    bad = tmp_path / "bad.empack"
    with zipfile.ZipFile(bad, "w") as z:
        for name, body in members.items():
            z.writestr(name, body)
    with qtbot.waitSignal(page.adapters_did_load, timeout=30_000):
        page.remove_selected()
    refused = finish(qtbot, page, lambda: page.import_pack(str(bad)))
    assert isinstance(refused, Exception)
    note = page.note.text()
    assert note.startswith("Not done: pack refused") and "tampered" in note and "\n" not in note
    reload(qtbot, page)
    assert names(page) == []


def test_a_pack_from_an_unknown_signer_asks_with_its_fingerprint(qtbot, settings: Settings, env: dict[str, str],
                                                                 lora_file: Path, tmp_path: Path) -> None:
    sender = load_settings(env={**env, "EDGEMIND_HOME": str(tmp_path / "sender")})
    add_adapter(sender, "theirs", lora_file)
    pack = tmp_path / "theirs.empack"
    manifest = Packs.open(sender).export(["theirs"], pack)
    cancelled = Asked(False)
    page = make_page(qtbot, settings, confirm_trust=cancelled)
    try:
        finish(qtbot, page, lambda: page.import_pack(str(pack)))
        assert cancelled.fingerprints == [manifest.fingerprint]
        assert manifest.fingerprint in page.note.text() and page.note.text().startswith("Not imported")
        reload(qtbot, page)
        assert names(page) == []
        page._confirm_trust = trusted = Asked(True)  # the user clicks "Trust and import" this time
        done = finish(qtbot, page, lambda: page.import_pack(str(pack)))
        assert not isinstance(done, Exception), done
        assert trusted.fingerprints == [manifest.fingerprint]
        reload(qtbot, page)
        assert names(page) == ["theirs"]
    finally:
        page.ctx.shutdown()


def busy_epoch(should_pause: Callable[[], bool]) -> EpochResult:
    """A mini-epoch that works until the scheduler says pause (the real ones checkpoint there)."""
    step = 0
    while not should_pause():
        step += 1
        time.sleep(0.01)
    return EpochResult(done=False, step=step)


def fast_runs(on_ac: bool) -> Callable[[DistillChoice], BackgroundRun]:
    def build(choice: DistillChoice) -> BackgroundRun:
        probes = Probes(on_ac=lambda: on_ac, other_cpu_percent=lambda: 0.0)
        return BackgroundRun(BackgroundDistiller(busy_epoch, probes, Policy(idle_for_s=0.0, poll_s=30.0,
                                                                            check_every_s=0.02)))
    return build


def wait_state(qtbot, page: PersonalizationPage, state: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: page.distill_status.text().startswith(f"Distillation: {state}"), timeout=10_000)


@pytest.mark.parametrize("on_ac, working", [(True, "running"), (False, "waiting")])
def test_background_distillation_starts_and_stops_promptly(qtbot, settings: Settings, on_ac: bool,
                                                           working: str) -> None:  # type: ignore[no-untyped-def]
    page = make_page(qtbot, settings, run_factory=fast_runs(on_ac))
    try:
        assert page.start_button.isEnabled() and not page.stop_button.isEnabled()
        page.start_distillation()
        assert not page.start_button.isEnabled() and page.stop_button.isEnabled()
        wait_state(qtbot, page, working)
        if not on_ac:
            assert "on battery" in page.distill_status.text()
        started = time.monotonic()
        with qtbot.waitSignal(page.distill_did_change, timeout=5_000,
                              check_params_cb=lambda state: state == "stopped"):
            page.stop_distillation()
        # a waiting run sleeps 30 s between looks at the machine: Stop must not wait for that
        assert time.monotonic() - started < 3.0
        assert page.distill_status.text().startswith("Distillation: stopped")
        assert page.start_button.isEnabled() and not page.stop_button.isEnabled()
    finally:
        page.ctx.shutdown()


def test_closing_the_app_stops_a_running_distillation(qtbot, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    page = make_page(qtbot, settings, run_factory=fast_runs(True))
    page.start_distillation()
    wait_state(qtbot, page, "running")
    slot = page._slot
    assert slot is not None
    started = time.monotonic()
    page.ctx.shutdown()
    assert time.monotonic() - started < 5.0
    status = slot.status
    assert status is not None and status.state == "stopped"


def test_evaluation_text_reads_nested_figures() -> None:
    assert evaluation_text({"heldout": {"n": 4, "p": 0.0625, "note": "x"}, "ok": False}) == \
        "heldout.n=4, heldout.p=0.0625, ok=no"
    assert evaluation_text({}) == "–"


def test_a_conversation_is_excluded_from_learning_from_its_menu(qtbot, gui) -> None:  # type: ignore[no-untyped-def]
    store = gui.ctx.engine.store
    kept = store.new_conversation(first_message="What is 2 + 3?")
    store.add_message(kept, "assistant", "5")
    private = store.new_conversation(first_message="My private question")
    store.add_message(private, "assistant", "A private answer")
    chat = gui.window.chat
    menu = chat.sidebar_menu(private, excluded=False)
    learn = next(a for a in menu.actions() if a.text() == "Exclude from learning")
    assert learn.isCheckable() and not learn.isChecked()
    with qtbot.waitSignal(chat.learning_did_change, timeout=10_000):
        learn.trigger()
    assert store.distill_excluded(private) and not store.distill_excluded(kept)
    assert [p.conversation_id for p in gui.ctx.engine.conversations.answered_prompts()] == [kept]
    assert next(a for a in chat.sidebar_menu(private, excluded=True).actions()
                if a.text() == "Exclude from learning").isChecked()
    with qtbot.waitSignal(chat.learning_did_change, timeout=10_000):
        chat.exclude_from_learning(private, False)  # unchecked again: it may be learnt from
    assert not store.distill_excluded(private)


def test_the_settings_page_holds_the_group_and_saves_learning_from_answers(qtbot, gui) -> None:  # type: ignore[no-untyped-def]
    page = gui.window.settings_page
    assert page.personalization.distill_enabled is page.distill_enabled
    assert page.distill_enabled.isChecked()  # on by default
    page.distill_enabled.setChecked(False)
    with qtbot.waitSignal(page.settings_did_save, timeout=10_000):
        page.save()
    assert load_settings(env={"EDGEMIND_HOME": str(gui.ctx.settings.home)}).distill_enabled is False
    assert gui.ctx.settings.distill_enabled is False  # applies now: a background run started next learns nothing
    personal = page.personalization
    with qtbot.waitSignal(personal.distill_did_change, timeout=30_000,
                          check_params_cb=lambda state: state == "error"):
        personal.start_distillation()  # the real run, built over the app's engine: refused before any model loads
    assert personal.distill_status.text() == ("Distillation not started: distillation is turned off "
                                              "(setting distill_enabled = false)")
    assert personal.start_button.isEnabled()
