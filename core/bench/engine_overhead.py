"""What EdgeMind's engine adds over raw llama-cpp-python on the same GGUF: TTFT and decode tok/s as paired ratios.

Drives a real Engine and a bare `llama_cpp.Llama` built with the engine backend's settings, in ABBA order, and
returns plain data and text; benchmarks/engine_vs_raw.py is its command. Measures only: it never changes settings
or models, and its only writes are the benchmark's own conversations and cache entries in the data folder it is given.
"""

from __future__ import annotations

import hashlib
import math
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backends.base import CancelToken, GenerationParams, Message
from ..backends.prefix_states import common_prefix
from ..engine.facade import AskOptions, Engine
from ..events import Done, Error, Token
from ..hardware import hardware_profile
from ..routing.decision import DEFAULT_SYSTEM_PROMPT
from ..settings import Settings
from .timing import NOISY_PCT, OthersCpu, Timeline, closing_stream, median, wait_for_idle

if TYPE_CHECKING:  # llama_cpp itself is imported late (RawSide): the engine's warm-up picks its CPU variant
    from llama_cpp.llama_types import ChatCompletionRequestMessage

DECODE_GOAL = 0.95  # engine decode tok/s must be at least this fraction of raw
TTFT_GOAL = 1.10  # engine TTFT must be at most this multiple of raw
BREAKDOWN_ROUNDS = 4  # extra instrumented requests per side for --breakdown
N_BATCH = 512  # what edgemind.core.backends.llama_cpp_backend.load_llama passes

SYSTEM_PROMPT = DEFAULT_SYSTEM_PROMPT
WARMUP_PROMPT = "Say hello in one short sentence."
PROMPTS: tuple[str, ...] = (
    "Explain what a Python generator is and when to use one.",
    "Write a Python function that checks whether a string is a palindrome.",
    "What is the difference between a list and a tuple in Python?",
    "Write a small function that returns the n-th Fibonacci number iteratively.",
    "Explain how a hash map handles collisions.",
    "Write a SQL query that counts orders per customer, highest first.",
    "What does the `with` statement do in Python? Give a short example.",
    "Write a bash one-liner that finds the 5 largest files in a directory tree.",
)


def fresh_prompts() -> Callable[[], str]:
    """Each call a prompt not asked before in this run (both sides get the same one): with the cache lookups on,
    the engine must miss. After PROMPTS runs out a take number makes the text new; the semantic tier compares
    prompts with other numbers as different questions, so these miss it too (EngineSide checks every request)."""
    asked = 0

    def next_prompt() -> str:
        nonlocal asked
        take, i = divmod(asked, len(PROMPTS))
        asked += 1
        return PROMPTS[i] if take == 0 else f"{PROMPTS[i]} (Take {take + 1}.)"

    return next_prompt


# ---- one timed request --------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Sample:
    side: str  # raw | engine
    repeat: int
    position: int  # 0: ran first in its repeat, 1: ran second
    prompt: str
    ttft_ms: float
    decode_tok_s: float
    tokens: int  # generated tokens
    content_chunks: int  # non-empty content chunks the consumer saw
    prompt_tokens: int  # the whole rendered prompt
    prefill_evaluated: int  # prompt tokens actually evaluated (the rest came from the KV prefix cache)
    decode_ms: float
    total_ms: float  # t0 to the end of the stream (the engine stores the answer after the last token)
    finish_reason: str
    text_sha1: str
    other_cpu_pct: float = 0.0  # CPU other processes used meanwhile, % of all cores (noise indicator)
    engine_metrics: dict[str, Any] | None = None  # what the engine measured itself (engine side only)


class _Timeline(Timeline):
    """The bench Timeline (the same TTFT and decode arithmetic as `edgemind bench`), with the names the breakdown
    reads."""

    def content(self, text: str | None) -> None:
        self.piece(text)

    @property
    def t_first(self) -> float | None:
        return self.stamps[0] if self.stamps else None

    @property
    def t_last(self) -> float | None:
        return self.stamps[-1] if self.stamps else None

    @property
    def chunks(self) -> int:
        return len(self.stamps)

    def figures(self, tokens: int) -> tuple[float, float, float]:
        """(TTFT ms, decode tok/s, decode ms)."""
        if not self.stamps:
            raise RuntimeError("the stream produced no content")
        tok_s = self.decode_tok_s(tokens)
        return self.ttft_ms, 0.0 if math.isnan(tok_s) else tok_s, self.decode_ms


def _kv_tokens(llm: Any) -> list[int]:
    """The tokens currently held in a Llama's KV cache (what the next request can reuse as a prefix)."""
    return [int(t) for t in llm._input_ids[: llm.n_tokens]]


def _prefill_evaluated(cached: Sequence[int], prompt: Sequence[int]) -> int:
    """How many prompt tokens Llama.generate evaluates given what was cached (mirrors its prefix-reuse rule)."""
    common = common_prefix(cached, prompt)
    reuse = common - 1 if common == len(prompt) else common
    return len(prompt) - max(reuse, 0)


class RawSide:
    """Plain llama-cpp-python, configured like EdgeMind's llama.cpp backend."""

    def __init__(self, path: Path, *, n_ctx: int, threads: int, params: GenerationParams) -> None:
        # imported here, not at the top: the engine's warm-up must have imported llama_cpp first, through
        # import_llama, so that this Llama runs on the CPU variant the engine picked
        import llama_cpp
        from llama_cpp import llama_chat_format

        self.params = params
        self.version = llama_cpp.__version__
        self.llm = llama_cpp.Llama(
            model_path=str(path), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, n_batch=N_BATCH,
            verbose=False,
        )
        # The prompt create_chat_completion will build, reproduced here (outside any timed region) so we know the
        # prompt token count and can check it equals the engine's.
        self.formatter: Any = None
        if self.llm.chat_format == "chat_template.default":
            model = self.llm._model
            eos, bos = self.llm.token_eos(), self.llm.token_bos()
            self.formatter = llama_chat_format.Jinja2ChatFormatter(
                template=self.llm.metadata["tokenizer.chat_template"],
                eos_token=model.token_get_text(eos) if eos != -1 else "",
                bos_token=model.token_get_text(bos) if bos != -1 else "",
                stop_token_ids=[eos],
            )

    @staticmethod
    def messages(prompt: str) -> list[ChatCompletionRequestMessage]:
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}]

    def prompt_tokens(self, prompt: str) -> list[int] | None:
        if self.formatter is None:
            return None
        result = self.formatter(messages=self.messages(prompt))
        return list(self.llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True))

    def run(self, prompt: str, max_tokens: int, repeat: int, position: int) -> tuple[Sample, _Timeline]:
        cached = _kv_tokens(self.llm)
        p = self.params
        foreign = OthersCpu()
        line = _Timeline(t0=time.perf_counter())
        stream = self.llm.create_chat_completion(
            messages=self.messages(prompt),
            stream=True, max_tokens=max_tokens, temperature=p.temperature, top_p=p.top_p, top_k=p.top_k,
            repeat_penalty=p.repeat_penalty,
        )
        assert isinstance(stream, Iterator), "stream=True returns chunks, not one response"
        finish = "?"
        for chunk in stream:
            choice = chunk["choices"][0]
            content = choice["delta"].get("content")  # the last chunk's delta is empty
            line.content(content if isinstance(content, str) else None)
            reason = choice.get("finish_reason")
            if reason:
                finish = reason
        ended = time.perf_counter()
        other_cpu = foreign.percent()
        text = "".join(line.pieces)
        ptoks = self.prompt_tokens(prompt)
        if ptoks is not None and _kv_tokens(self.llm)[: len(ptoks)] == ptoks:
            # Every answer token but the last is evaluated (the next one is sampled from it); the last is evaluated
            # too unless generation ended on the length limit (an end-of-generation token is sampled, not kept).
            tokens = self.llm.n_tokens - len(ptoks) + (1 if finish == "length" else 0)
            n_prompt, evaluated = len(ptoks), _prefill_evaluated(cached, ptoks)
        else:  # unknown chat format: fall back to chunks (may undercount when tokens merge into one chunk)
            tokens, n_prompt, evaluated = line.chunks, -1, -1
        ttft, tok_s, decode_ms = line.figures(tokens)
        return Sample(
            side="raw", repeat=repeat, position=position, prompt=prompt, ttft_ms=ttft, decode_tok_s=tok_s,
            tokens=tokens, content_chunks=line.chunks, prompt_tokens=n_prompt, prefill_evaluated=evaluated,
            decode_ms=decode_ms, total_ms=(ended - line.t0) * 1000, finish_reason=finish,
            text_sha1=hashlib.sha1(text.encode()).hexdigest()[:12], other_cpu_pct=other_cpu,
        ), line

    def close(self) -> None:
        self.llm.close()


class EngineSide:
    """EdgeMind's engine, used the way the CLI / API use it.

    With `cache_lookup` (the default) every request goes through the answer cache's lookups (L1, L2, then the
    semantic tier) and must miss them: a hit raises, as it would compare a cache read with a generation. Without it
    the request asks `use_cache=False`, which skips the L1/L2 and semantic lookups (the prompt is still embedded
    for the semantic tier and the fresh answer still stored)."""

    def __init__(self, engine: Engine, model_id: str, *, cache_lookup: bool = True) -> None:
        self.engine = engine
        self.model_id = model_id
        self.cache_lookup = cache_lookup
        self.loaded: Any = None  # the engine's LoadedLlama, once warm (read only between timed runs)

    def attach(self) -> None:
        def refuse() -> Any:
            raise RuntimeError("the engine's model is not loaded; warm it up first")

        with self.engine.pool.lease(self.model_id, refuse) as (loaded, _):
            self.loaded = loaded

    def prompt_tokens(self, prompt: str) -> list[int]:
        return list(self.loaded.tokenize(self.loaded.template.render(
            [Message("system", SYSTEM_PROMPT), Message("user", prompt)])))

    def run(self, prompt: str, max_tokens: int, repeat: int, position: int) -> tuple[Sample, _Timeline]:
        cached = _kv_tokens(self.loaded.llm) if self.loaded else []
        options = AskOptions(model=self.model_id, max_tokens=max_tokens, temperature=0.0,
                             system_prompt=SYSTEM_PROMPT, store=True, use_cache=self.cache_lookup)
        done: Done | None = None
        foreign = OthersCpu()
        line = _Timeline(t0=time.perf_counter())
        with closing_stream(self.engine.stream(prompt, options, CancelToken())) as events:
            for event in events:
                if isinstance(event, Token):
                    line.content(event.text)
                elif isinstance(event, Done):
                    done = event
                elif isinstance(event, Error):
                    raise RuntimeError(f"engine error ({event.kind}): {event.message}")
        ended = time.perf_counter()
        other_cpu = foreign.percent()
        if done is None:
            raise RuntimeError("the engine stream ended without a Done event")
        if done.cache != "miss":
            raise RuntimeError(f"the engine answered {prompt!r} from its {done.cache} cache: the comparison needs a "
                               "miss, so every request must be a new prompt")
        text = "".join(line.pieces)
        m = done.metrics
        ttft, tok_s, decode_ms = line.figures(m.tokens)
        evaluated = _prefill_evaluated(cached, self.prompt_tokens(prompt)) if self.loaded else -1
        return Sample(
            side="engine", repeat=repeat, position=position, prompt=prompt, ttft_ms=ttft, decode_tok_s=tok_s,
            tokens=m.tokens, content_chunks=line.chunks, prompt_tokens=m.prompt_tokens, prefill_evaluated=evaluated,
            decode_ms=decode_ms, total_ms=(ended - line.t0) * 1000, finish_reason=done.finish_reason,
            text_sha1=hashlib.sha1(text.encode()).hexdigest()[:12], other_cpu_pct=other_cpu, engine_metrics=asdict(m),
        ), line


# ---- optional: where the time goes (--breakdown) -------------------------------------------------------------------
class _Spans:
    """Times calls to chosen methods of live objects (instance attributes shadow the class's method; undone after)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, float, float]] = []
        self._undo: list[Callable[[], None]] = []

    def wrap(self, obj: Any, attr: str, label: str) -> None:
        original = getattr(obj, attr)
        items = self.items

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                items.append((label, start, time.perf_counter()))

        setattr(obj, attr, timed)
        self._undo.append(lambda: delattr(obj, attr))

    def between(self, start: float, end: float) -> dict[str, tuple[float, int]]:
        """label -> (ms, calls) for the calls that ran entirely inside [start, end]."""
        out: dict[str, tuple[float, int]] = {}
        for label, a, b in self.items:
            if a >= start and b <= end:
                ms, n = out.get(label, (0.0, 0))
                out[label] = (ms + (b - a) * 1000, n + 1)
        return out

    def undo(self) -> None:
        for fn in reversed(self._undo):
            fn()
        self._undo.clear()


BREAKDOWN_ROWS: tuple[tuple[str, str], ...] = (
    ("eval", "llama.cpp prompt eval (llm.eval)"),
    ("sample", "llama.cpp first sample (llm.sample)"),
    ("store", "SQLite writes (conversation, user message)"),
    ("render", "chat template render"),
    ("tokenize", "tokenize the rendered prompt"),
)


def breakdown(engine: Engine, eng_side: EngineSide, raw: RawSide, max_tokens: int, rounds: int,
              prompts: Callable[[], str]) -> dict[str, Any]:
    """Extra, instrumented requests (ABBA, as in the main run) that split each side's time into llama.cpp work
    (eval/sample) and the Python around it: before the first token per stage, and per decoded token."""
    spans = _Spans()
    for side_llm in (raw.llm, eng_side.loaded.llm):
        spans.wrap(side_llm, "eval", "eval")
        spans.wrap(side_llm, "sample", "sample")
        spans.wrap(side_llm, "tokenize", "tokenize")
    spans.wrap(engine.store, "new_conversation", "store")
    spans.wrap(engine.store, "add_message", "store")
    spans.wrap(eng_side.loaded.template, "render", "render")
    rows: dict[str, list[dict[str, float]]] = {"raw": [], "engine": []}
    try:
        for i in range(rounds):
            prompt = prompts()
            order: list[RawSide | EngineSide] = [raw, eng_side] if i % 2 == 0 else [eng_side, raw]
            for side in order:
                spans.items.clear()
                sample, line = side.run(prompt, max_tokens, i, 0)
                assert line.t_first is not None and line.t_last is not None
                pre = spans.between(line.t0, line.t_first)
                dec = spans.between(line.t_first, line.t_last)
                row = {key: pre.get(key, (0.0, 0))[0] for key, _ in BREAKDOWN_ROWS}
                row.update({f"{key}_calls": float(pre.get(key, (0.0, 0))[1]) for key, _ in BREAKDOWN_ROWS})
                row["ttft"] = sample.ttft_ms
                row["other"] = sample.ttft_ms - sum(row[key] for key, _ in BREAKDOWN_ROWS)
                row["python_before_first_token"] = sample.ttft_ms - row["eval"] - row["sample"]
                llama_ms = dec.get("eval", (0.0, 0))[0] + dec.get("sample", (0.0, 0))[0]
                steps = max(dec.get("eval", (0.0, 0))[1], 1)
                row["decode_llama_ms_per_token"] = llama_ms / steps
                row["decode_python_us_per_token"] = (sample.decode_ms - llama_ms) / steps * 1000
                row["other_cpu_pct"] = sample.other_cpu_pct
                rows[sample.side].append(row)
    finally:
        spans.undo()
    return {side: {key: statistics.median(r[key] for r in side_rows) for key in side_rows[0]}
            for side, side_rows in rows.items()}


def breakdown_text(bd: dict[str, Any], rounds: int) -> str:
    out: list[str] = []
    line = out.append
    raw, eng = bd["raw"], bd["engine"]
    line(f"where the time goes ({rounds} extra instrumented requests per side; medians, ms unless stated)")
    line(f"{'':58}{'raw':>9}{'engine':>9}   calls raw/engine")
    line(f"{'TTFT':58}{raw['ttft']:9.2f}{eng['ttft']:9.2f}")
    for key, label in BREAKDOWN_ROWS:
        value_raw = "n/a" if key in ("store", "render") else f"{raw[key]:.2f}"
        line(f"  {label:56}{value_raw:>9}{eng[key]:9.2f}   {raw[key + '_calls']:.0f}/{eng[key + '_calls']:.0f}")
    line(f"  {'other Python before the first token':56}{raw['other']:9.2f}{eng['other']:9.2f}")
    line(f"{'all Python before the first token (TTFT - eval - sample)':58}"
         f"{raw['python_before_first_token']:9.2f}{eng['python_before_first_token']:9.2f}")
    line(f"{'decode: llama.cpp eval+sample per token':58}"
         f"{raw['decode_llama_ms_per_token']:9.2f}{eng['decode_llama_ms_per_token']:9.2f}")
    line(f"{'decode: Python per token outside eval+sample (us)':58}"
         f"{raw['decode_python_us_per_token']:9.1f}{eng['decode_python_us_per_token']:9.1f}")
    line("  raw renders its template inside llama-cpp-python (counted in 'other'); the engine renders and tokenizes")
    line("  twice: once to fit the context window (Backend.count_tokens), once in LlamaCppBackend.stream")
    line("")
    return "\n".join(out)


# ---- the summary -------------------------------------------------------------------------------------------------
def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _position_balanced(pairs: list[tuple[Sample, Sample]], ratio: Callable[[Sample, Sample], float],
                       ) -> tuple[dict[str, float], float]:
    """Median ratio among repeats where raw ran first and among those where the engine did, and their geometric
    mean: running first or second moves TTFT by up to ~10% by itself (see benchmarks/engine_vs_raw.py); with an
    odd number of repeats a plain median would carry that bias, the geometric mean of the two cancels it."""
    by_first: dict[str, float] = {}
    for first in ("raw", "engine"):
        values = [ratio(r, e) for r, e in pairs if (r.position == 0) == (first == "raw")]
        values = [v for v in values if v > 0 and v == v]
        if values:
            by_first[first] = statistics.median(values)
    if len(by_first) == 2:
        return by_first, (by_first["raw"] * by_first["engine"]) ** 0.5
    return by_first, median([ratio(r, e) for r, e in pairs])


def summarize(samples: list[Sample]) -> dict[str, Any]:
    raw = sorted((s for s in samples if s.side == "raw"), key=lambda s: s.repeat)
    eng = sorted((s for s in samples if s.side == "engine"), key=lambda s: s.repeat)
    pairs = list(zip(raw, eng))
    decode_ratios = [e.decode_tok_s / r.decode_tok_s for r, e in pairs if r.decode_tok_s > 0]
    ttft_ratios = [e.ttft_ms / r.ttft_ms for r, e in pairs if r.ttft_ms > 0]
    side: dict[str, dict[str, float]] = {}
    for name, rows in (("raw", raw), ("engine", eng)):
        side[name] = {
            "ttft_ms_median": median([s.ttft_ms for s in rows]),
            "decode_tok_s_median": median([s.decode_tok_s for s in rows]),
            "prompt_tokens_median": median([s.prompt_tokens for s in rows]),
            "prefill_evaluated_median": median([s.prefill_evaluated for s in rows]),
            "tokens_median": median([s.tokens for s in rows]),
            "content_chunks_median": median([s.content_chunks for s in rows]),
            "total_ms_median": median([s.total_ms for s in rows]),
            "other_cpu_pct_median": median([s.other_cpu_pct for s in rows]),
        }
    decode_paired, ttft_paired = median(decode_ratios), median(ttft_ratios)
    decode_by_pos, decode_balanced = _position_balanced(pairs, lambda r, e: e.decode_tok_s / r.decode_tok_s)
    ttft_by_pos, ttft_balanced = _position_balanced(pairs, lambda r, e: e.ttft_ms / r.ttft_ms)
    return {
        "side": side,
        "decode_ratio": decode_balanced,
        "ttft_ratio": ttft_balanced,
        "decode_ratio_paired_median": decode_paired,
        "ttft_ratio_paired_median": ttft_paired,
        "decode_ratio_by_first_side": decode_by_pos,
        "ttft_ratio_by_first_side": ttft_by_pos,
        "decode_ratio_of_medians": side["engine"]["decode_tok_s_median"] / side["raw"]["decode_tok_s_median"],
        "ttft_ratio_of_medians": side["engine"]["ttft_ms_median"] / side["raw"]["ttft_ms_median"],
        "decode_ratios": decode_ratios,
        "ttft_ratios": ttft_ratios,
        "decode_pass": decode_balanced >= DECODE_GOAL,
        "ttft_pass": ttft_balanced <= TTFT_GOAL,
        "same_tokens_every_repeat": all(r.tokens == e.tokens for r, e in pairs),
        "same_text_every_repeat": all(r.text_sha1 == e.text_sha1 for r, e in pairs),
        "same_prompt_tokens_every_repeat": all(r.prompt_tokens == e.prompt_tokens for r, e in pairs),
        "other_cpu_pct_max": max((s.other_cpu_pct for s in samples), default=0.0),
    }


def report_text(info: dict[str, Any], samples: list[Sample], summary: dict[str, Any]) -> str:
    out: list[str] = []
    line = out.append
    line("")
    line(f"model      {info['model']}  ({info['model_path']})")
    line(f"hardware   {info['cpu']}, {info['physical_cores']} physical / {info['logical_cores']} logical cores; "
         f"threads {info['threads']}; n_ctx {info['n_ctx']}; {info['os']}")
    line(f"software   llama-cpp-python {info['llama_cpp_python']}, Python {info['python']}")
    line(f"run        {info['repeats']} repeats (ABBA order), max_tokens {info['max_tokens']}, temperature 0"
         + (f"; {info['discarded_noisy_pairs']} noisy repeat(s) redone" if info["discarded_noisy_pairs"] else ""))
    line(f"engine     {info['engine_requests']}")
    line("")
    line("per repeat  (ttft ms / decode tok/s / generated tokens; * = ran first; other processes' CPU %)")
    raw = {s.repeat: s for s in samples if s.side == "raw"}
    eng = {s.repeat: s for s in samples if s.side == "engine"}
    for i in sorted(raw):
        r, e = raw[i], eng[i]
        mark_r, mark_e = ("*", " ") if r.position == 0 else (" ", "*")
        same = "same text" if r.text_sha1 == e.text_sha1 else "TEXT DIFFERS"
        line(f"  #{i}  raw{mark_r} {r.ttft_ms:7.1f} / {r.decode_tok_s:6.2f} / {r.tokens:3d}   "
              f"engine{mark_e} {e.ttft_ms:7.1f} / {e.decode_tok_s:6.2f} / {e.tokens:3d}   "
              f"ratios {e.decode_tok_s / r.decode_tok_s:5.3f} decode, {e.ttft_ms / r.ttft_ms:5.3f} ttft  "
              f"({same}; other CPU {r.other_cpu_pct:.0f}%/{e.other_cpu_pct:.0f}%)")
    line("")
    s_raw, s_eng = summary["side"]["raw"], summary["side"]["engine"]
    rows = (
        ("TTFT ms (median)", "ttft_ms_median", "{:.1f}"),
        ("decode tok/s (median)", "decode_tok_s_median", "{:.2f}"),
        ("prompt tokens (median)", "prompt_tokens_median", "{:.0f}"),
        ("  of which evaluated", "prefill_evaluated_median", "{:.0f}"),
        ("generated tokens (median)", "tokens_median", "{:.0f}"),
        ("content chunks (median)", "content_chunks_median", "{:.0f}"),
        ("total ms (median)", "total_ms_median", "{:.1f}"),
        ("other processes' CPU % (median)", "other_cpu_pct_median", "{:.1f}"),
    )
    line(f"{'':34}{'raw':>12}{'engine':>12}")
    for label, key, fmt in rows:
        line(f"{label:34}{fmt.format(s_raw[key]):>12}{fmt.format(s_eng[key]):>12}")
    line("")
    for label, key, goal, pass_key in (("decode tok/s", "decode", f">= {DECODE_GOAL:.2f}", "decode_pass"),
                                       ("TTFT", "ttft", f"<= {TTFT_GOAL:.2f}", "ttft_pass")):
        by_first = summary[f"{key}_ratio_by_first_side"]
        split = ", ".join(f"{side} first {v:.3f}" for side, v in by_first.items())
        line(f"engine/raw {label:14}{summary[f'{key}_ratio']:.3f}  (goal {goal})  {_verdict(summary[pass_key])}")
        line(f"    median of per-repeat ratios {summary[f'{key}_ratio_paired_median']:.3f} ({split}); "
              f"ratio of medians {summary[f'{key}_ratio_of_medians']:.3f}")
    checks = []
    for key, label in (("same_prompt_tokens_every_repeat", "prompt tokens"),
                       ("same_tokens_every_repeat", "generated tokens"), ("same_text_every_repeat", "answer text")):
        checks.append(f"{label} {'equal' if summary[key] else 'DIFFER'}")
    line(f"consistency: {', '.join(checks)} (raw vs engine, every repeat)")
    if summary["other_cpu_pct_max"] > NOISY_PCT:
        line(f"WARNING: other processes used up to {summary['other_cpu_pct_max']:.0f}% of the CPU during a request; "
              "llama.cpp's threads were competing for cores, so these figures are noisy: rerun on an idle machine")
    line("")
    return "\n".join(out)


# ---- the run -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OverheadOptions:
    model: str
    threads: int
    repeats: int = 5
    max_tokens: int = 128
    wait_idle_s: float = 0.0  # before each repeat, wait up to this long for other processes to go quiet
    retry_noisy: int = 0  # redo a disturbed repeat, up to this many times in all
    breakdown: bool = False  # afterwards, BREAKDOWN_ROUNDS instrumented requests per side
    cache_lookup: bool = True  # the engine looks each prompt up in the answer cache (and misses); see EngineSide


@dataclass(frozen=True, slots=True)
class OverheadRun:
    info: dict[str, Any]
    samples: list[Sample]
    discarded: list[Sample]  # pairs redone because other processes were busy (--retry-noisy)
    summary: dict[str, Any]
    breakdown: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {"info": self.info, "samples": [asdict(s) for s in self.samples],
                "discarded_noisy_samples": [asdict(s) for s in self.discarded], "summary": self.summary,
                "breakdown": self.breakdown}

    def text(self) -> str:
        text = report_text(self.info, self.samples, self.summary)
        return text + ("\n" + breakdown_text(self.breakdown, BREAKDOWN_ROUNDS) if self.breakdown else "")


def _engine_requests(cache_lookup: bool) -> str:
    if cache_lookup:
        return ("whole pipeline: safety check, router, answer-cache lookups (L1, L2, semantic; every one a miss), "
                "context, conversation store, generation, cache store, audit")
    return ("whole pipeline without the answer-cache lookups (use_cache=False: the prompt is still embedded for the "
            "semantic tier and the answer stored), safety check, router, context, store, generation, audit")


def compare_engine_and_raw(settings: Settings, options: OverheadOptions,
                           progress: Callable[[str], None] = lambda m: None) -> OverheadRun:
    """The paired run. `settings` is the data folder and models to use; with `cache_lookup` the answer cache and
    its semantic tier are switched on for this engine whatever the settings say."""
    if options.cache_lookup:
        settings = replace(settings, cache_enabled=True, cache_semantic_enabled=True)
    settings = replace(settings, threads=options.threads)
    engine = Engine.create(settings)
    raw: RawSide | None = None
    try:
        spec = engine.models.get(options.model)
        t = time.perf_counter()
        path = engine.models.prepare(spec)  # installs / verifies the model; not part of any measurement
        progress(f"model ready at {path} ({time.perf_counter() - t:.1f} s to install/verify)")
        eng_side = EngineSide(engine, spec.id, cache_lookup=options.cache_lookup)
        params = GenerationParams(max_tokens=options.max_tokens, temperature=0.0)  # engine defaults otherwise
        # Warm-up (untimed): loads the engine's model and fills both KV caches with the system prompt.
        eng_side.run(WARMUP_PROMPT, options.max_tokens, -1, 0)
        eng_side.attach()
        n_ctx = engine.backend_for(spec).context_window() or min(settings.context_length, spec.context_length)
        raw = RawSide(path, n_ctx=n_ctx, threads=options.threads, params=params)
        raw.run(WARMUP_PROMPT, options.max_tokens, -1, 0)
        for prompt in PROMPTS:  # both sides must send the very same tokens
            r_toks, e_toks = raw.prompt_tokens(prompt), eng_side.prompt_tokens(prompt)
            if r_toks is not None and r_toks != e_toks:
                progress(f"WARNING: raw and engine prompts differ for {prompt!r}: "
                         f"{len(r_toks)} vs {len(e_toks)} tokens")
        prompts = fresh_prompts()  # a redone pair never meets its own prompt in a KV or answer cache
        samples: list[Sample] = []
        discarded: list[Sample] = []
        retries_left = options.retry_noisy
        i = 0
        while i < options.repeats:
            prompt = prompts()
            if options.wait_idle_s > 0:
                waited = wait_for_idle(options.wait_idle_s)
                if waited > 1.5:
                    progress(f"waited {waited:.0f} s for other processes to go quiet")
            order: list[RawSide | EngineSide] = [raw, eng_side] if i % 2 == 0 else [eng_side, raw]
            pair = [side.run(prompt, options.max_tokens, i, position)[0] for position, side in enumerate(order)]
            r, e = pair if pair[0].side == "raw" else pair[::-1]
            progress(f"repeat {i + 1}/{options.repeats}: raw {r.ttft_ms:.0f} ms / {r.decode_tok_s:.1f} tok/s, "
                     f"engine {e.ttft_ms:.0f} ms / {e.decode_tok_s:.1f} tok/s; other processes' CPU "
                     f"{r.other_cpu_pct:.0f}%/{e.other_cpu_pct:.0f}%")
            if max(r.other_cpu_pct, e.other_cpu_pct) > NOISY_PCT and retries_left > 0:
                retries_left -= 1
                discarded.extend(pair)
                progress(f"  noisy: redoing this repeat with the next prompt ({retries_left} retries left)")
                continue
            samples.extend(pair)
            i += 1
        bd = breakdown(engine, eng_side, raw, options.max_tokens, BREAKDOWN_ROUNDS, prompts) \
            if options.breakdown else None
        hw = hardware_profile()
        info: dict[str, Any] = {
            "model": spec.id, "model_path": str(path), "cpu": hw.cpu, "physical_cores": hw.physical_cores,
            "logical_cores": hw.logical_cores, "os": hw.os, "threads": options.threads, "n_ctx": n_ctx,
            "n_batch": N_BATCH, "llama_cpp_python": raw.version, "python": platform.python_version(),
            "repeats": options.repeats, "max_tokens": options.max_tokens, "wait_idle_s": options.wait_idle_s,
            "retry_noisy": options.retry_noisy, "discarded_noisy_pairs": len(discarded) // 2,
            "cache_lookup": options.cache_lookup, "engine_requests": _engine_requests(options.cache_lookup),
            "system_prompt": SYSTEM_PROMPT,
            "sampling": {"temperature": 0.0, "top_p": params.top_p, "top_k": params.top_k,
                         "repeat_penalty": params.repeat_penalty},
            "goals": {"decode_ratio_min": DECODE_GOAL, "ttft_ratio_max": TTFT_GOAL},
        }
        return OverheadRun(info, samples, discarded, summarize(samples), bd)
    finally:
        if raw is not None:
            raw.close()
        engine.close()
