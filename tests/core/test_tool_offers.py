"""The router offers a tool only when the prompt needs it: general knowledge, summaries of known works and lists of
facts get no tool; a path, your own documents, a URL, code to run, this computer or a number bring the right one.
The held-out figures are <= 5% false offers with recall no worse than offering every tool of the intent, and the
committed result file is what the benchmark computes today."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from edgemind.core.bench.tool_offers import (
    FALSE_OFFER_GOAL, SPLITS, OfferCase, load_cases, measure, score, split_cases,
)
from edgemind.core.classify.policy_file import resource_path
from edgemind.core.embeddings.embedder import Embedder
from edgemind.core.errors import ConfigError
from edgemind.core.routing.classifier import load_examples
from edgemind.core.routing.lexicons import OFFER_CUES
from edgemind.core.routing.policy import RouterPolicy, load_router_policy
from edgemind.core.routing.router import TRAIN_FILE, IntentRouter, trained_model
from edgemind.core.routing.signals import lexicon_pattern, matchable

ROOT = Path(__file__).resolve().parents[2]
RESULT = ROOT / "benchmarks" / "results" / "tool_offers.json"
FILE_TOOLS = {"files_list", "files_read", "files_search"}


@pytest.fixture(scope="module")
def policy() -> RouterPolicy:
    return load_router_policy()


@pytest.fixture(scope="module")
def router(artifacts_dir: Path, embedder: Embedder, policy: RouterPolicy) -> IntentRouter:
    return IntentRouter(policy, embedder, trained_model(embedder, policy, artifacts_dir / "router"), "default")


@pytest.fixture(scope="module")
def intent_router(router: IntentRouter) -> IntentRouter:
    """The same router offering every tool of the intent, as before the offer rules (policy offer_tools)."""
    return IntentRouter(replace(router.policy, offer_tools="with_intent"), router.embedder, router.model, "default")


# ---- the issue's examples ----------------------------------------------------------------------------------------
def test_a_summary_of_a_known_work_is_chat_without_the_docs_tool(router: IntentRouter) -> None:
    decision = router.route("Summarize the plot of Hamlet in two sentences")
    assert decision.tools == () and decision.intent == "chat"
    assert "docs_search" in dict(decision.tools_left_out) and "no docs tool needed" in decision.reason


def test_a_list_of_facts_is_chat_without_file_tools(router: IntentRouter) -> None:
    decision = router.route("List the planets in order")
    assert decision.tools == () and decision.intent == "chat"


def test_a_unit_conversion_may_use_the_calculator_but_no_documents_or_files(router: IntentRouter) -> None:
    decision = router.route("How many ounces are in a kilogram?")
    assert set(decision.tools) <= {"calculator"} and decision.intent == "math"


@pytest.mark.parametrize(("prompt", "tool"), [
    ("summarize my meeting notes", "docs_search"),
    ("What does the contract I indexed say about notice periods?", "docs_search"),
    ("Read my file ~/notes/todo.txt and tell me what is due", "files_read"),
    ("open my Downloads folder and list the PDFs", "files_list"),
    ("Fetch https://example.com and give me its title", "web_fetch"),
    ("Run this and show me the output:\n```python\nprint(2 + 2)\n```", "python_run"),
    ("How much RAM does this computer have?", "system_info"),
    ("What is 17% of 2350?", "calculator"),
])
def test_a_prompt_that_needs_a_tool_is_offered_it_and_says_why(router: IntentRouter, prompt: str, tool: str) -> None:
    decision = router.route(prompt)
    assert tool in decision.tools, decision.reason
    assert dict(decision.tools_why)[tool]  # what in the prompt needs it


@pytest.mark.parametrize(("prompt", "not_offered"), [
    ("What does a computer's CPU do?", "system_info"),
    ("How do I run a marathon in under four hours?", "python_run"),
    ("What is the Pythagorean theorem?", "calculator"),
    ("What is a file extension?", "files_read"),
])
def test_words_like_cpu_run_or_file_in_a_general_question_bring_no_tool(router: IntentRouter, prompt: str,
                                                                          not_offered: str) -> None:
    assert not_offered not in router.route(prompt).tools


def test_an_action_no_tool_can_do_stays_an_action_without_tools(router: IntentRouter) -> None:
    """"Mute the sound" is a request about this computer: no tool does it, and it is not turned into chat."""
    decision = router.route("mute the sound")
    assert decision.intent == "action" and decision.tools == ()


def test_before_the_rules_the_same_router_offered_docs_and_file_tools_to_the_issues_prompts(
        intent_router: IntentRouter) -> None:
    """What the issue saw, kept reachable with offer_tools = "with_intent" (the benchmark's baseline)."""
    assert "docs_search" in intent_router.route("Summarize the plot of Hamlet in two sentences").tools
    assert FILE_TOOLS <= set(intent_router.route("List the planets in order").tools)


def test_the_decision_names_every_tool_offered_or_left_out_in_its_json(router: IntentRouter) -> None:
    shown = json.loads(json.dumps(router.route("what is my CPU?").as_dict()))
    assert shown["tools"] == ["system_info"] and "my" in shown["tools_why"]["system_info"]
    assert set(shown["tools_left_out"]) == set(router.policy.intents["action"].tools) - {"system_info"}


def test_a_prompt_in_a_language_without_rules_keeps_its_intents_tools(router: IntentRouter) -> None:
    """The cue words are English: elsewhere a missing cue proves nothing, so nothing is taken away."""
    decision = router.route("Was steht in meinen Notizen über das Treffen mit dem Vermieter?")
    assert decision.language == "de" and decision.tools == router.policy.intents[decision.intent].tools


def test_a_bad_offer_mode_in_a_policy_file_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    override = tmp_path / "router_policy.toml"
    override.write_text('[router]\noffer_tools = "sometimes"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"router\.offer_tools.*when_needed, with_intent"):
        load_router_policy(override)


# ---- the measurement ---------------------------------------------------------------------------------------------
def test_on_the_heldout_split_false_offers_are_at_most_5_percent_with_recall_no_worse(
        router: IntentRouter, intent_router: IntentRouter) -> None:
    cases = split_cases("heldout")
    now, before = measure(router.offered, cases), measure(intent_router.offered, cases)
    assert now["no_tool"]["false_offer_rate"] <= FALSE_OFFER_GOAL, now["no_tool"]["examples"]
    assert now["needs_tool"]["recall"] >= before["needs_tool"]["recall"], now["needs_tool"]["missed"]
    assert before["no_tool"]["false_offer_rate"] > 3 * FALSE_OFFER_GOAL  # the baseline shows the problem


def test_the_committed_result_is_what_the_benchmark_computes_today(router: IntentRouter,
                                                                   intent_router: IntentRouter) -> None:
    """Routing is deterministic on one machine, so the counts in benchmarks/results/tool_offers.json are reproduced
    -- to within CROSS_CPU_SLACK prompts per count: the embeddings and the trained intent model are float
    arithmetic whose kernels onnxruntime and numpy pick per CPU (AVX-512 on the Intel machine the file was made on,
    AVX2 on an AMD one), so a prompt on the decision boundary may fall the other way (seen: 31 false offers for 30)."""
    committed = json.loads(RESULT.read_text(encoding="utf-8"))
    modes = {"when_needed": router.offered, "with_intent": intent_router.offered}
    for split in SPLITS:
        cases = split_cases(split)
        for mode, route in modes.items():
            off = _counts_apart(committed["splits"][split]["modes"][mode], measure(route, cases))
            assert not off, (f"{split}/{mode} differs at {off}: "
                             f"python -m edgemind.core.bench.tool_offers --json {RESULT.relative_to(ROOT)}")


CROSS_CPU_SLACK = 2


def _counts_apart(committed: Any, today: Any, at: str = "") -> list[str]:
    """The paths of counts further apart than CROSS_CPU_SLACK, and of structure that differs (examples are not
    compared: they follow from the counts)."""
    if isinstance(committed, dict) and isinstance(today, dict):
        if committed.keys() != today.keys():
            return [f"{at or '.'} keys"]
        return [p for k in committed if k != "examples" for p in _counts_apart(committed[k], today[k], f"{at}/{k}")]
    if isinstance(committed, int) and isinstance(today, int):
        return [] if abs(committed - today) <= CROSS_CPU_SLACK else [f"{at}: {committed} then {today}"]
    if isinstance(committed, float) and isinstance(today, float):
        return []  # a rate follows from its counts
    return [] if committed == today else [f"{at}: {committed!r} then {today!r}"]


def test_scoring_counts_allowed_tools_as_no_false_offer_and_any_listed_tool_as_recall() -> None:
    cases = [OfferCase("a", ()), OfferCase("b", (), ("calculator",)), OfferCase("c", ("files_read", "docs_search"))]
    result = score(cases, [("docs_search",), ("calculator",), ("docs_search", "web_fetch")])
    assert (result["no_tool"]["false_offers"], result["needs_tool"]["recalled"]) == (1, 1)
    assert result["needs_tool"]["with_other_tools"] == 1


@pytest.mark.parametrize(("line", "message"), [
    ('{"prompt": "", "tools": []}', "non-empty"), ('{"prompt": "x", "tools": "calculator"}', "list of tool"),
    ('{"prompt": "x", "tools": [], "allowed": [1]}', "allowed"), ("not json", "not JSON"),
])
def test_a_broken_offers_file_is_a_config_error_naming_its_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "offers.jsonl"
    path.write_text('{"prompt": "fine", "tools": []}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"offers\.jsonl:2: .*{message}"):
        load_cases(path)


# ---- the data: held-out stays unseen -------------------------------------------------------------------------------
def _normalised(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", unicodedata.normalize("NFKC", text).casefold()).split())


def test_the_splits_are_big_enough_and_the_heldout_one_shares_no_prompt_with_dev_or_training() -> None:
    heldout, dev = split_cases("heldout"), split_cases("dev")
    assert sum(not c.tools for c in heldout) >= 150 and sum(bool(c.tools) for c in heldout) >= 60
    assert sum(not c.tools for c in dev) >= 100 and sum(bool(c.tools) for c in dev) >= 40
    seen = {_normalised(c.prompt) for c in dev} | {_normalised(e.prompt) for e in load_examples(resource_path(
        TRAIN_FILE))}
    assert not {_normalised(c.prompt) for c in heldout} & seen


def test_every_offer_cue_comes_from_the_training_or_dev_prompts_never_the_heldout_ones() -> None:
    """The cue words are learned like the lexicons: a phrase only the held-out split has would make its figures a
    measure of what we wrote into the rules."""
    texts = [matchable(e.prompt) for e in load_examples(resource_path(TRAIN_FILE))]
    texts += [matchable(c.prompt) for c in split_cases("dev")]
    unattested = {name: [p for p in phrases if not any(lexicon_pattern(p).search(t) for t in texts)]
                  for name, phrases in OFFER_CUES.items()}
    assert {name: found for name, found in unattested.items() if found} == {}


# ---- the command -------------------------------------------------------------------------------------------------
def test_edgemind_route_shows_which_tools_are_offered_and_why(cli_env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "-m", "edgemind.core.cli", "route",
                             "Summarize the plot of Hamlet in two sentences"],
                            env=cli_env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    first, *why = result.stdout.splitlines()
    assert first.startswith("chat ") and "tools: none" in first
    assert any(line.strip().startswith("not docs_search: no reference to your own documents") for line in why)
