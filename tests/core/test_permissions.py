"""The broker and runner: nothing runs without a grant, grants come only from the user, and all of it is logged."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from sqlalchemy.orm import sessionmaker

from edgemind.core.storage.audit import AuditLog, load_key
from edgemind.core.storage.db import open_database
from edgemind.core.tools.permissions import Answer, PermissionBroker, PermissionRequest
from edgemind.core.settings import Settings
from edgemind.core.tools.runner import ToolRunner
from edgemind.core.tools.registry import ToolRegistry
from edgemind.plugins.sdk import tool

RUNS: list[tuple[str, dict[str, object]]] = []


@tool(plugin="testkit", scopes=["fs.read:{path}"])
def peek(path: str) -> str:
    """Record that it ran (the test's own spy)."""
    RUNS.append(("peek", {"path": path}))
    return "peeked"


@tool(plugin="testkit", scopes=["net:{url}"])
def fetch(url: str) -> str:
    """Record that it ran."""
    RUNS.append(("fetch", {"url": url}))
    return "fetched"


@tool(plugin="testkit", scopes=["code.exec"])
def execute(code: str) -> str:
    """Record that it ran."""
    RUNS.append(("execute", {"code": code}))
    return "executed"


@tool(plugin="testkit")
def add(a: int, b: int) -> int:
    """Pure: needs no scope."""
    RUNS.append(("add", {"a": a, "b": b}))
    return a + b


class Asker:
    """Stands in for the person at the dialog: answers from a script and remembers what it was shown."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.seen: list[PermissionRequest] = []

    def __call__(self, request: PermissionRequest) -> Answer:
        self.seen.append(request)
        return self.answers.pop(0) if self.answers else Answer.DENY


@pytest.fixture
def sessions(settings: Settings) -> sessionmaker:  # type: ignore[type-arg]
    return sessionmaker(open_database(settings.db_path), expire_on_commit=False)


@pytest.fixture
def audit(sessions: sessionmaker, settings: Settings) -> AuditLog:  # type: ignore[type-arg]
    return AuditLog(sessions, load_key(settings.home, "file"))


@pytest.fixture(autouse=True)
def clear_runs() -> Iterator[None]:
    RUNS.clear()
    yield
    RUNS.clear()


def make_runner(sessions, audit, ask=None, grants=(), tools=(peek, fetch, execute, add)) -> ToolRunner:  # type: ignore[no-untyped-def]
    return ToolRunner(ToolRegistry(tools), PermissionBroker(sessions, audit, ask=ask, preset=grants), audit)


def test_deny_by_default_when_no_one_can_be_asked(sessions, audit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runner = make_runner(sessions, audit)
    outcome = runner.call("peek", {"path": str(tmp_path)})
    assert outcome.decision == "denied:no_one_to_ask" and not outcome.ok and RUNS == []
    assert [e.kind for e in audit.entries()] == ["tool_proposed", "denied"]


def test_pure_tools_run_without_a_grant(sessions, audit) -> None:  # type: ignore[no-untyped-def]
    assert make_runner(sessions, audit).call("add", {"a": 2, "b": 3}).content == "5"


def test_the_user_sees_the_exact_arguments_and_scopes(sessions, audit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    asker = Asker(Answer.ONCE)
    make_runner(sessions, audit, asker).call("peek", {"path": str(tmp_path / "a.txt")})
    [request] = asker.seen
    assert request.tool == "peek" and request.scopes == (f"fs.read:{tmp_path / 'a.txt'}",)
    assert request.arguments == {"path": str(tmp_path / "a.txt")}


def test_once_asks_again_next_time(sessions, audit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    asker = Asker(Answer.ONCE, Answer.DENY)
    runner = make_runner(sessions, audit, asker)
    assert runner.call("peek", {"path": str(tmp_path)}).ok
    assert not runner.call("peek", {"path": str(tmp_path)}).ok
    assert len(asker.seen) == 2 and len(RUNS) == 1


def test_session_lasts_for_this_broker_only(sessions, audit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    asker = Asker(Answer.SESSION)
    runner = make_runner(sessions, audit, asker)
    assert runner.call("peek", {"path": str(tmp_path)}).ok and runner.call("peek", {"path": str(tmp_path)}).ok
    assert len(asker.seen) == 1
    assert not make_runner(sessions, audit).call("peek", {"path": str(tmp_path)}).ok


def test_always_is_stored_and_survives_a_restart(sessions, audit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_runner(sessions, audit, Asker(Answer.ALWAYS)).call("peek", {"path": str(tmp_path)})
    later = make_runner(sessions, audit)  # a new process: nobody to ask
    assert later.call("peek", {"path": str(tmp_path)}).decision == "allowed:always"
    assert [g.tool for g in later.broker.grants()] == ["peek"]


def test_a_changed_tool_asks_again(sessions, audit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    make_runner(sessions, audit, Asker(Answer.ALWAYS)).call("peek", {"path": str(tmp_path)})

    @tool(name="peek", plugin="testkit", scopes=["fs.read:{path}"])
    def peek_v2(path: str) -> str:
        """Record that it ran, and now also something else."""
        RUNS.append(("peek_v2", {"path": path}))
        return "changed"

    changed = make_runner(sessions, audit, tools=(peek_v2,))
    assert peek_v2.manifest.sha256 != peek.manifest.sha256
    assert changed.call("peek", {"path": str(tmp_path)}).decision == "denied:no_one_to_ask"


def test_deny_is_not_asked_again_in_the_session(sessions, audit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    asker = Asker(Answer.DENY, Answer.ONCE)
    runner = make_runner(sessions, audit, asker)
    assert runner.call("peek", {"path": str(tmp_path)}).decision == "denied:denied"
    assert runner.call("peek", {"path": str(tmp_path)}).decision == "denied:denied_earlier"
    assert len(asker.seen) == 1 and RUNS == []


def test_a_crashing_dialog_denies(sessions, audit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def broken(_request: PermissionRequest) -> Answer:
        raise TimeoutError("dialog closed")

    assert make_runner(sessions, audit, broken).call("peek", {"path": str(tmp_path)}).decision == "denied:denied"
    assert RUNS == []


def test_a_grant_for_one_folder_does_not_cover_another(sessions, audit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    runner = make_runner(sessions, audit, grants=[f"fs.read:{tmp_path / 'a'}"])
    assert runner.call("peek", {"path": str(tmp_path / "a" / "x")}).ok
    assert not runner.call("peek", {"path": str(tmp_path / "b" / "x")}).ok
    assert not runner.call("peek", {"path": str(tmp_path / "a" / ".." / "b")}).ok


def test_arguments_are_checked_before_anyone_is_asked(sessions, audit) -> None:  # type: ignore[no-untyped-def]
    asker = Asker(Answer.ALWAYS)
    runner = make_runner(sessions, audit, asker)
    assert "is not of type 'integer'" in runner.call("add", {"a": "1", "b": 2}).content
    assert "Additional properties" in runner.call("add", {"a": 1, "b": 2, "c": 3}).content
    assert "unknown tool" in runner.call("rm_rf", {}).content
    assert runner.call("peek", "not an object").decision == "rejected"
    assert asker.seen == [] and RUNS == []


def test_revoke_removes_stored_grants(sessions, audit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runner = make_runner(sessions, audit, Asker(Answer.ALWAYS))
    runner.call("peek", {"path": str(tmp_path)})
    assert runner.broker.revoke(tool="peek") == 1
    assert not make_runner(sessions, audit).call("peek", {"path": str(tmp_path)}).ok


def test_rate_limits_hold(sessions, audit) -> None:  # type: ignore[no-untyped-def]
    @tool(plugin="testkit", rate_limit_per_min=3)
    def tick() -> str:
        """Counts."""
        return "tick"

    now = [0.0]
    runner = ToolRunner(ToolRegistry([tick]), PermissionBroker(sessions, audit), audit, clock=lambda: now[0])
    assert [runner.call("tick", {}).ok for _ in range(4)] == [True, True, True, False]
    now[0] = 61.0
    assert runner.call("tick", {}).ok


def test_a_slow_tool_is_abandoned_at_its_timeout(sessions, audit) -> None:  # type: ignore[no-untyped-def]
    import time

    @tool(plugin="testkit", timeout_s=0.2)
    def stall() -> str:
        """Sleeps too long."""
        time.sleep(2)
        return "late"

    outcome = ToolRunner(ToolRegistry([stall]), PermissionBroker(sessions, audit), audit).call("stall", {})
    assert not outcome.ok and "longer than 0.2 s" in outcome.content


def test_dry_run_never_runs_the_tool(sessions, audit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outcome = make_runner(sessions, audit, grants=["code.exec"]).call("execute", {"code": "1"}, dry_run=True)
    assert outcome.decision == "dry_run" and "needs: code.exec" in outcome.content and RUNS == []


# ---- the property: no tool ever executes without a matching grant -------------------------------------------------
FOLDERS = ["a", "b", "a/deep"]
PATHS = ["a/x.txt", "a/deep/y.txt", "b/z.txt", "a/../b/z.txt", "a/link_to_b/z.txt", "c.txt", "a/deep/../../b"]
HOSTS = ["example.org", "docs.example.org", "evil.com"]
call_strategy = st.one_of(
    st.tuples(st.just("peek"), st.sampled_from(PATHS)),
    st.tuples(st.just("fetch"), st.sampled_from(HOSTS).map(lambda h: f"https://{h}/page")),
    st.tuples(st.just("execute"), st.just("print(1)")),
)
grant_strategy = st.lists(st.one_of(st.sampled_from(FOLDERS).map(lambda f: ("fs.read", f)),
                                    st.sampled_from(HOSTS + ["*.example.org"]).map(lambda h: ("net", h)),
                                    st.just(("code.exec", ""))), max_size=3)
answer_strategy = st.lists(st.sampled_from(list(Answer)), max_size=10)


def _inside(real: str, folder: str) -> bool:
    return real == folder or real.startswith(folder + os.sep)


def _oracle_allowed(root: Path, name: str, target: str, grants: list[tuple[str, str]], answered_yes: bool,
                    remembered: set[tuple[str, str]]) -> bool:
    """An independent statement of the rule, written without the code under test.

    A yes for the session covers that call's target again (for a path: anything inside it, since a granted
    folder grants its contents)."""
    if answered_yes:
        return True
    if name == "peek":
        real = os.path.realpath(root / target)
        return any(k == "fs.read" and _inside(real, os.path.realpath(root / f)) for k, f in grants) or \
            any(n == "peek" and _inside(real, r) for n, r in remembered)
    if (name, target) in remembered:
        return True
    if name == "fetch":
        host = target.split("/")[2]
        return any(k == "net" and (h == host or (h.startswith("*.") and host.endswith(h[1:]))) for k, h in grants)
    return ("code.exec", "") in grants


# 700 examples with EDGEMIND_SLOW=1; 250 in the default run (each call now also writes the audit anchor, fsynced)
EXAMPLES = 700 if os.environ.get("EDGEMIND_SLOW") == "1" else 250


@hsettings(max_examples=EXAMPLES, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=st.lists(call_strategy, min_size=15, max_size=15), grants=grant_strategy, answers=answer_strategy)
def test_no_tool_ever_executes_without_a_matching_grant(sessions, audit, tmp_path: Path, calls, grants, answers) -> None:  # type: ignore[no-untyped-def]
    """EXAMPLES x 15 generated calls (10,500 with EDGEMIND_SLOW=1): each execution must be explained by a grant or a
    yes."""
    root = tmp_path / "prop"
    if not root.exists():
        for f in FOLDERS:
            (root / f).mkdir(parents=True)
        (root / "a" / "link_to_b").symlink_to(root / "b")
    preset = [f"{k}:{root / t}" if k == "fs.read" else (f"{k}:{t}" if t else k) for k, t in grants]
    said_yes: list[bool] = []
    script = list(answers)

    def ask(request: PermissionRequest) -> Answer:
        answer = script.pop(0) if script else Answer.DENY
        said_yes.append(answer is not Answer.DENY)
        return answer

    # fresh broker state per example, but one database: stored "always" grants must not leak between examples
    runner = make_runner(sessions, audit, ask, preset)
    runner.broker.revoke()
    remembered_yes: set[tuple[str, str]] = set()
    for name, target in calls:
        RUNS.clear()
        arg = {"peek": {"path": str(root / target)}, "fetch": {"url": target}, "execute": {"code": target}}[name]
        asked_before = len(said_yes)
        outcome = runner.call(name, arg)
        was_asked = len(said_yes) > asked_before
        yes_now = was_asked and said_yes[-1]
        key = (name, target if name != "peek" else os.path.realpath(root / target))
        allowed = _oracle_allowed(root, name, target, grants, yes_now, remembered_yes)
        if yes_now and outcome.decision in ("allowed:session", "allowed:always"):
            remembered_yes.add(key)
        assert bool(RUNS) == outcome.ok
        if RUNS:
            assert allowed, f"{name}({target}) ran with grants {grants} and no yes"
