"""Tool offers: how often the router offers a tool to a prompt that needs none (false offers), and how often it
offers the tool a prompt needs (tool recall), on ordinary questions and on tool requests, with the shipped policy's
`offer_tools` modes side by side ("with_intent": every tool of the intent, as before; "when_needed": today's).

    .venv/bin/python -m edgemind.core.bench.tool_offers [--json benchmarks/results/tool_offers.json]

Two labelled splits in resources/: `tool_offers_dev.jsonl`, which the offer rules and their cue words were written
against, and `tool_offers_heldout.jsonl`, written before any rule and never tuned on. Routing is deterministic, so
the figures are exact counts that the same command reproduces on any machine (tests/core/test_tool_offers.py
recomputes the committed file's). Goal from issue 17: <= 5% false offers, recall no worse than with_intent.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..classify.json_lines import read_objects
from ..classify.policy_file import resource_path
from ..errors import ConfigError
from ..routing.policy import OFFER_MODES, RouterPolicy, load_router_policy
from .script import write_result

SPLITS = {"dev": "tool_offers_dev.jsonl", "heldout": "tool_offers_heldout.jsonl"}
FALSE_OFFER_GOAL = 0.05
COMMAND = "python -m edgemind.core.bench.tool_offers --json benchmarks/results/tool_offers.json"


@dataclass(frozen=True, slots=True)
class OfferCase:
    """One labelled prompt: `tools` lists the tools any one of which does the job (empty: it needs none);
    `allowed` those that are no false offer though not needed (the calculator for a unit conversion)."""

    prompt: str
    tools: tuple[str, ...]
    allowed: tuple[str, ...] = ()
    kind: str = ""


def load_cases(path: Path) -> list[OfferCase]:
    """The split's lines {"prompt", "tools": [...], ["allowed": [...]], ["kind"]}; a bad one is a ConfigError
    naming the file and line."""
    cases = []
    for number, row in read_objects(path, ConfigError):
        prompt, tools, allowed = row.get("prompt"), row.get("tools"), row.get("allowed", [])
        if not isinstance(prompt, str) or not prompt.strip():
            raise ConfigError(f"{path}:{number}: expected a non-empty \"prompt\" string")
        for key, value in (("tools", tools), ("allowed", allowed)):
            if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
                raise ConfigError(f"{path}:{number}: \"{key}\" must be a list of tool names")
        cases.append(OfferCase(prompt, tuple(tools or ()), tuple(allowed), str(row.get("kind", ""))))
    return cases


def split_cases(split: str) -> list[OfferCase]:
    return load_cases(resource_path(SPLITS[split]))


def score(cases: Sequence[OfferCase], offered: Sequence[Sequence[str]]) -> dict[str, Any]:
    """False offers on the prompts that need no tool, recall on those that need one, and every miss by name."""
    plain = [(c, set(o)) for c, o in zip(cases, offered, strict=True) if not c.tools]
    needy = [(c, set(o)) for c, o in zip(cases, offered, strict=True) if c.tools]
    false = [(c, o) for c, o in plain if o - set(c.allowed)]
    missed = [(c, o) for c, o in needy if not o & set(c.tools)]
    extra = [(c, o) for c, o in needy if o - set(c.tools) - set(c.allowed)]
    by_kind = Counter(c.kind for c, _ in plain)
    false_kind = Counter(c.kind for c, _ in false)
    return {
        "no_tool": {"n": len(plain), "false_offers": len(false),
                    "false_offer_rate": round(len(false) / len(plain), 4) if plain else None,
                    "by_kind": {k: {"n": n, "false_offers": false_kind[k]} for k, n in sorted(by_kind.items())},
                    "examples": [{"prompt": c.prompt, "offered": sorted(o)} for c, o in false]},
        "needs_tool": {"n": len(needy), "recalled": len(needy) - len(missed),
                       "recall": round(1 - len(missed) / len(needy), 4) if needy else None,
                       "with_other_tools": len(extra),
                       "missed": [{"prompt": c.prompt, "needs": list(c.tools), "offered": sorted(o)}
                                  for c, o in missed]},
    }


def measure(route: Callable[[str], Sequence[str]], cases: Sequence[OfferCase]) -> dict[str, Any]:
    """`route(prompt) -> offered tool names` over the cases, scored."""
    return score(cases, [tuple(route(c.prompt)) for c in cases])


def routers(policy: RouterPolicy, cache: Path) -> dict[str, Callable[[str], Sequence[str]]]:
    """The shipped router in each offer mode (one embedder and one trained model shared): prompt -> tools."""
    from ..embeddings.embedder import Embedder  # lazy: onnxruntime and the encoder load only to measure
    from ..routing.router import IntentRouter, trained_model  # lazy: the same

    embedder = Embedder(cache / "embeddings")
    model = trained_model(embedder, policy, cache / "router")
    return {mode: IntentRouter(replace(policy, offer_tools=mode), embedder, model, "default").offered
            for mode in OFFER_MODES}


def run(cache: Path) -> dict[str, Any]:
    """Every split through every mode: the result file's content (deterministic: no timings)."""
    modes = routers(load_router_policy(), cache)
    splits = {name: split_cases(name) for name in SPLITS}
    return {"command": COMMAND.split(), "goal": {"false_offer_rate": FALSE_OFFER_GOAL},
            "splits": {name: {"file": f"resources/{SPLITS[name]}",
                              "modes": {mode: measure(route, cases) for mode, route in modes.items()}}
                       for name, cases in splits.items()}}


def table(result: dict[str, Any]) -> str:
    """One line per split and mode: false offers and recall."""
    lines = []
    for name, split in result["splits"].items():
        for mode, r in split["modes"].items():
            plain, needy = r["no_tool"], r["needs_tool"]
            lines.append(f"{name:8} {mode:12} false offers {plain['false_offers']:3}/{plain['n']:<3} "
                         f"({plain['false_offer_rate']:6.1%})   tool recall {needy['recalled']:3}/{needy['n']:<3} "
                         f"({needy['recall']:6.1%})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgemind.core.bench.tool_offers",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the result as JSON here")
    parser.add_argument("--cache", type=Path, help="folder for the built encoder and model (default: a temp dir)")
    parser.add_argument("--show", action="store_true", help="print every false offer and every miss")
    args = parser.parse_args(argv)
    result = run(args.cache or Path(tempfile.mkdtemp(prefix="edgemind-offers-")))
    print(table(result))
    if args.show:
        for name, split in result["splits"].items():
            r = split["modes"]["when_needed"]
            for e in r["no_tool"]["examples"]:
                print(f"[{name}] false offer {e['offered']}: {e['prompt']!r}")
            for e in r["needs_tool"]["missed"]:
                print(f"[{name}] missed {e['needs']} (offered {e['offered']}): {e['prompt']!r}")
    if args.json:
        write_result(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
