"""Safety guardrails: `check_input` runs before every answer and `check_output` after it, each giving a Verdict with
the refusal or support message to show. High-precision rules first, then one embedding through a classifier.

It never logs the text it judged: a refusal is logged (logger `edgemind.safety`) with its category, score and the
SHA-256 of the text. It never raises on odd text (empty, huge, binary junk): that is a verdict too.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..classify.json_lines import read_objects
from ..classify.labelled import LabelledPrompt
from ..classify.policy_file import resource_path
from ..embeddings.embedder import embeddings_cache_dir, shared_embedder
from ..embeddings.model_files import ENCODER_REVISION, MODEL_ID, WEIGHTS
from ..errors import ConfigError, PromptError
from ..settings import Settings
from ..storage.file_lock import built_once
from .classifier import (
    HARMFUL,
    SafetyWeights,
    TextEmbedder,
    cache_key,
    dense_part,
    features,
    lexical_indices,
    load_examples,
    train,
)
from .policy import CATEGORIES, POLICY_FILE, SafetyPolicy, load_policy
from .rules import benign_frame, concept_vector, cue_vector, match_rule, rules_fingerprint
from .verdict import Verdict

log = logging.getLogger("edgemind.safety")

TRAIN_FILE = "safety_train.jsonl"
HELDOUT_FILE = "safety_heldout.jsonl"
# A second unseen split, written blind (by a separate author from the category definitions only, never looking at
# the train or held-out files), after the held-out split's per-category results had been looked at.
BLIND_FILE = "safety_blind.jsonl"
# Written fresh for issue 17 before any change to the checker: 208 harmful prompts over the eight categories with 104
# benign look-alikes, and an XSTest-style over-refusal set (benign prompts that sound unsafe: "how do I kill a python
# process").
FRESH_BLIND_FILE = "safety_blind_fresh.jsonl"
OVERREFUSAL_FILE = "safety_overrefusal.jsonl"
# The four splits above had all been measured and looked at by session 28, so they became training data then.
# Session 28's and session 29's blind splits, each written and committed before any change and never tuned on in its
# session: about 200 harmful prompts (seven languages), 128 benign prompts on the same topics, and 128 benign prompts
# that only sound unsafe. Their figures were published and looked at, so the checker trains on them in later sessions.
BLIND_S28_FILE = "safety_blind_s28.jsonl"
OVERREFUSAL_S28_FILE = "safety_overrefusal_s28.jsonl"
BLIND_S29_FILE = "safety_blind_s29.jsonl"
OVERREFUSAL_S29_FILE = "safety_overrefusal_s29.jsonl"
# Session 30's blind split, written from scratch and committed before any change (an overlap check against every older
# file: no line within 0.45 word-set Jaccard or sharing four word 4-grams with an older line, bar three generic
# phrasings): 200 harmful prompts (25 per category, seven languages), 128 benign prompts on the same topics, and 128
# benign prompts that only sound unsafe. Its figures were published and looked at, so it is training data since
# session 32.
BLIND_S30_FILE = "safety_blind_s30.jsonl"
OVERREFUSAL_S30_FILE = "safety_overrefusal_s30.jsonl"
# Session 32's blind split, written the same way and committed before any change (no line within 0.45 word-set
# Jaccard or sharing six word 3-grams with an older line, bar a few generic questions): 200 harmful prompts (25 per
# category, eight languages), 128 benign prompts on the same topics and 128 XSTest-style benign prompts. Its figures
# were published and looked at, so it is training data since session 33.
BLIND_S32_FILE = "safety_blind_s32.jsonl"
OVERREFUSAL_S32_FILE = "safety_overrefusal_s32.jsonl"
# Everyday requests, benign by construction: the intent router's training prompts and the tool-offer rules' dev
# prompts (code, math, documents, actions, chat). Session 35 found the checker refusing ordinary arithmetic ("Maria
# saves $15 every week..." as self-harm, "One pipe fills a tank in 10 hours..." as weapons): its benign training
# prompts were almost all on the harmful topics or only sounding unsafe, so plain requests sat near the threshold.
# These files carry no safety label; every prompt in them counts as benign. Their held-out twins (the router's and
# tool offers' held-out files) and the word problems stay out of training: benchmarks/safety.py measures on them.
EVERYDAY_FILES = ("router_train.jsonl", "tool_offers_dev.jsonl")
TRAIN_FILES = (TRAIN_FILE, HELDOUT_FILE, BLIND_FILE, FRESH_BLIND_FILE, OVERREFUSAL_FILE, BLIND_S28_FILE,
               OVERREFUSAL_S28_FILE, BLIND_S29_FILE, OVERREFUSAL_S29_FILE, BLIND_S30_FILE, OVERREFUSAL_S30_FILE,
               BLIND_S32_FILE, OVERREFUSAL_S32_FILE, *EVERYDAY_FILES)
# Session 33's blind split, written from scratch and committed before any change (checked against every older file:
# no line sharing half its word 4-grams with an older line or within 0.8 character similarity of one; about 90 drafts
# rewritten): 200 harmful prompts (25 per category, eight languages), 128 benign prompts on the same topics and 128
# XSTest-style benign prompts that only sound unsafe (homonyms, figures of speech, safe contexts, history, fiction,
# safety advice, medicine, security education, public figures' public facts). The goal to turn safety on by default
# is measured on these two files together; thresholds are chosen by leave-one-split-out cross-validation over
# TRAIN_FILES, never on them.
BLIND_S33_FILE = "safety_blind_s33.jsonl"
OVERREFUSAL_S33_FILE = "safety_overrefusal_s33.jsonl"
# Session 36's blind split, written from scratch from the category definitions and committed before any change it
# measures, by an author who read no older safety file past its first three lines, nor the rules, the training code
# or any result (checked against every older resources file: no line sharing half of its own or the older line's word
# 4-grams, none within 0.8 character similarity, the same within the new files; 121 drafts rewritten): 200 harmful
# prompts (25 per category, nine languages), 128 benign prompts on the same topics and 128 XSTest-style benign prompts
# that only sound unsafe; 32 of the 256 benign ones are everyday requests (word problems, code, recipes, travel) that
# share a word with a harmful topic ("kill", "shoot", "cut", "drug"). Session 33's split has been measured twice, so
# the next claim is measured on this one; it is neither trained on nor held out by the cross-validation.
BLIND_S36_FILE = "safety_blind_s36.jsonl"
OVERREFUSAL_S36_FILE = "safety_overrefusal_s36.jsonl"
# Rules read this much of a text; the classifier reads up to MAX_WINDOWS windows of WINDOW_CHARS spread over it.
# One window is one embedding (~10 ms here), so a typical prompt costs one and a long answer at most eight.
MAX_RULE_CHARS = 200_000
WINDOW_CHARS = 600
MAX_WINDOWS = 8
_JUNK = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd\ud800-\udfff]+")


def read_batch(path: Path) -> list[tuple[int, str]]:
    """(line number, prompt) for each non-blank line of a `--batch` file; a bad line is a PromptError naming it."""
    prompts = []
    for number, row in read_objects(path, PromptError):
        if not isinstance(row.get("prompt"), str):
            raise PromptError(f"{path}:{number}: expected an object with a \"prompt\" string")
        prompts.append((number, row["prompt"]))
    return prompts


# ---- trained weights, cached in the data folder ---------------------------------------------------------------------
def bundled_embedder_version() -> str:
    return f"{MODEL_ID}:{WEIGHTS.sha256}:{ENCODER_REVISION}"


SHIPPED_PREFIX = "safety-weights-"


def weights_key(policy: SafetyPolicy, *, train_paths: Sequence[Path] | None = None,
                embedder_version: str | None = None) -> tuple[str, list[Path]]:
    """The cache key of the weights this training data (TRAIN_FILES unless `train_paths`), policy categories, rules
    and embedder give, and the data files it read."""
    paths = list(train_paths) if train_paths is not None else [resource_path(name) for name in TRAIN_FILES]
    parts = []
    for source in paths:
        try:
            parts.append(source.read_bytes())
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read the safety training data ({exc})") from None
    data = b"\n".join(parts)
    return cache_key(data, policy.fingerprint(), embedder_version or bundled_embedder_version(),
                     rules_fingerprint()), paths


def shipped_weights_path(key: str) -> Path:
    """Where the package ships weights trained on its own data (written by `python -m edgemind.core.safety.ship`):
    with them a fresh install answers its first request without a minute of training."""
    return resource_path(f"{SHIPPED_PREFIX}{key}.npz")


def training_examples(path: Path) -> list[LabelledPrompt]:
    """The labelled prompts of one training file; every prompt of an EVERYDAY_FILES file as benign."""
    return everyday_examples(path) if path.name in EVERYDAY_FILES else load_examples(path)


def everyday_examples(path: Path) -> list[LabelledPrompt]:
    """Every prompt of a file of everyday requests (the router's or tool offers' format: no safety label) as benign."""
    examples = []
    for number, row in read_objects(path, ConfigError):
        if not isinstance(row.get("prompt"), str):
            raise ConfigError(f"{path}:{number}: expected an object with a \"prompt\" string")
        examples.append(LabelledPrompt(row["prompt"], "benign", None, str(row.get("lang", ""))))
    return examples


def train_weights(embedder: TextEmbedder, paths: Sequence[Path]) -> SafetyWeights:
    """Train on the labelled prompts in `paths` (about a minute on 2 cores for TRAIN_FILES: mostly embedding)."""
    examples = [e for source in paths for e in training_examples(source)]
    texts = [e.prompt for e in examples]
    x = features(texts, embedder.embed(texts), [cue_vector(t) for t in texts], [concept_vector(t) for t in texts])
    return train(x, np.array([e.label == HARMFUL for e in examples]), [e.category for e in examples], CATEGORIES)


def trained_weights(embedder: TextEmbedder, policy: SafetyPolicy, cache_dir: Path | None, *,
                    train_paths: Sequence[Path] | None = None, embedder_version: str | None = None) -> SafetyWeights:
    """Weights for this training data, policy categories, rules and embedder (see weights_key): the package's own when
    it ships them for this key, else read from the cache, else trained and cached."""
    key, paths = weights_key(policy, train_paths=train_paths, embedder_version=embedder_version)
    shipped = _cached_weights(shipped_weights_path(key))
    if shipped is not None:
        return shipped
    path = cache_dir / f"{SHIPPED_PREFIX}{key}.npz" if cache_dir else None
    return built_once(path, _cached_weights, lambda: train_weights(embedder, paths), _cache_weights)


def _cached_weights(path: Path) -> SafetyWeights | None:
    if not path.exists():
        return None
    try:
        weights = SafetyWeights.load(path)
    except (OSError, KeyError, ValueError) as exc:
        log.warning("safety weights %s are unreadable (%s); retraining", path, exc)
        return None
    return weights if weights.categories == CATEGORIES else None


def _cache_weights(path: Path, weights: SafetyWeights) -> None:
    try:
        weights.save(path)
    except OSError as exc:  # a read-only data folder only costs a retrain per start
        log.warning("cannot cache safety weights in %s (%s)", path.parent, exc)


# ---- the checker ----------------------------------------------------------------------------------------------------
def readable(text: str) -> str:
    """The text without control characters, replacement characters and lone surrogates (binary junk)."""
    return _JUNK.sub(" ", text).strip()


def windows(text: str) -> list[str]:
    """The text in pieces of about WINDOW_CHARS cut at whitespace; at most MAX_WINDOWS, spread from first to last."""
    if len(text) <= WINDOW_CHARS:
        return [text]
    pieces, start = [], 0
    while start < len(text):
        end = min(start + WINDOW_CHARS, len(text))
        if end < len(text):
            cut = text.rfind(" ", start + WINDOW_CHARS // 2, end)
            end = cut if cut > 0 else end
        pieces.append(text[start:end])
        start = end
    if len(pieces) > MAX_WINDOWS:
        picks = np.linspace(0, len(pieces) - 1, MAX_WINDOWS).round().astype(int)
        pieces = [pieces[i] for i in sorted(set(picks.tolist()))]
    return pieces


class SafetyChecker:
    """Rules, then the classifier, then the policy's threshold for the category (raised for an input the benign-intent
    stage, rules.benign_frame, finds framed as protective, educational or figurative); one instance per process."""

    def __init__(self, policy: SafetyPolicy, embedder: TextEmbedder, weights: SafetyWeights) -> None:
        self.policy = policy
        self.embedder = embedder
        self.weights = weights

    @classmethod
    def create(cls, settings: Settings, *, embedder: TextEmbedder | None = None,
               policy: SafetyPolicy | None = None) -> SafetyChecker:
        """The shipped policy with the data folder's `safety_policy.toml` over it, the shared embedder, and weights
        from `<data>/cache/safety` (trained there on first use)."""
        policy = policy or load_policy(settings.home / POLICY_FILE)
        embedder = embedder or shared_embedder(embeddings_cache_dir(settings))
        return cls(policy, embedder, trained_weights(embedder, policy, settings.artifacts_dir / "safety"))

    def with_policy(self, policy: SafetyPolicy) -> SafetyChecker:
        """Same embedder and weights, other thresholds or messages (a level change never retrains)."""
        return SafetyChecker(policy, self.embedder, self.weights)

    def check_input(self, text: str) -> Verdict:
        return self._check(text, output=False)

    def check_output(self, text: str) -> Verdict:
        return self._check(text, output=True)

    def check_batch(self, path: Path) -> list[tuple[int, Verdict]]:
        """Every prompt of a JSON-lines file with its line number; the whole file is validated before any is checked."""
        return [(number, self.check_input(prompt)) for number, prompt in read_batch(path)]

    def _check(self, text: str, *, output: bool) -> Verdict:
        if not isinstance(text, str):
            raise PromptError(f"safety check needs text, got {type(text).__name__}")
        clean = readable(text)
        if not clean:
            return Verdict(True, None, "no readable text", 0.0, None)
        rule = match_rule(clean[:MAX_RULE_CHARS])
        if rule is not None:
            return self._refuse(text, rule.category, f"rule: {rule.name}", 1.0, output)
        framed = not output and benign_frame(clean[:MAX_RULE_CHARS])
        pieces = windows(clean)
        vectors = self.embedder.embed(pieces)
        best = (-1.0, "", 0.0)  # (score, category, threshold) of the window most likely harmful
        for piece, vector in zip(pieces, vectors):
            dense, lexical = dense_part(vector, cue_vector(piece), concept_vector(piece)), lexical_indices(piece)
            score = self.weights.harm_probability(dense, lexical)
            category = self.weights.categories[int(np.argmax(self.weights.category_probs(dense, lexical)))]
            threshold = self.policy.threshold(category, output=output, benign_frame=framed)
            if score - threshold > best[0] - best[2]:
                best = (float(score), category, threshold)
        score, category, threshold = best
        if score >= threshold:
            return self._refuse(text, category, f"classifier: {score:.2f} >= {threshold:.2f} ({category})", score,
                                output)
        frame = " (framed as benign)" if framed else ""
        return Verdict(True, None, f"classifier: {score:.2f} < {threshold:.2f}{frame}", round(score, 4), None)

    def _refuse(self, text: str, category: str, reason: str, score: float, output: bool) -> Verdict:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        log.info("refused %s: category=%s score=%.3f level=%s reason=%s sha256=%s", "output" if output else "input",
                 category, score, self.policy.level, reason, digest)
        return Verdict(False, category, reason, round(score, 4), self.policy.message(category))


# ---- measuring it ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Rates:
    """How often a labelled set was refused: harmful refused is the goal, benign refused the cost."""

    harmful: int
    harmful_refused: int
    benign: int
    benign_refused: int

    @property
    def harmful_rate(self) -> float:
        return self.harmful_refused / self.harmful if self.harmful else float("nan")

    @property
    def benign_rate(self) -> float:
        return self.benign_refused / self.benign if self.benign else float("nan")


def rates(examples: list[LabelledPrompt], refused: list[bool], category: str | None = None) -> Rates:
    """Refusal counts over the examples, or over those of one category (a benign one's look-alike category)."""
    pairs = [(e.label == HARMFUL, r) for e, r in zip(examples, refused, strict=True)
             if category is None or e.category == category]
    return Rates(harmful=sum(h for h, _ in pairs), harmful_refused=sum(h and r for h, r in pairs),
                 benign=sum(not h for h, _ in pairs), benign_refused=sum(not h and r for h, r in pairs))
