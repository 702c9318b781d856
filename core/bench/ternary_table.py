"""docs/benchmarks.md's section for benchmarks/results/ternary_model.json (the tiny BitNet model end to end): kept
beside the benchmark it renders so docs_page.py only registers it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PPL_ROWS = (
    ("torch_float", "torch, the same model trained in fp32 (no quantization)"),
    ("torch_ternary_qat", "torch, BitNet b1.58 QAT model (ternary weights, int8 activations)"),
    ("llama_cpp_tq2_0", "llama.cpp, TQ2_0 GGUF"),
    ("llama_cpp_tq1_0", "llama.cpp, TQ1_0 GGUF"),
    ("llama_cpp_f16", "llama.cpp, F16 GGUF of the same ternary weights"),
    ("ours_tmac_tq2_0", "ours: numpy forward + T-MAC LUT kernels, TQ2_0 GGUF"),
    ("ours_tmac_tq1_0", "ours: numpy forward + T-MAC LUT kernels, TQ1_0 GGUF"),
    ("llama_cpp_untrained_tq2_0", "llama.cpp, an untrained model (random weights), TQ2_0"),
)


def _mb(n: float | None) -> str:
    return "n/a" if n is None else f"{n / 1e6:,.2f} MB"


def render(path: Path, root: Path, data: dict[str, Any], table: Any, py: str) -> str:
    """The section; `table(head, rows)` is docs_page's Markdown table, `py` its interpreter path."""
    cfg, ppl, files = data.get("config", {}), data.get("perplexity", {}), data.get("files", {})
    train = data.get("training", {})
    ppl_rows = [[label, f"{ppl[key]['perplexity']:,.2f}", str(ppl[key].get("scored_tokens", ""))]
                for key, label in PPL_ROWS if key in ppl]
    ppl_rows.append(["uniform over the vocabulary", f"{ppl.get('uniform', 0):,.0f}", ""])
    file_rows = [[f"`{fmt}`", _mb(f["file_bytes"]), f"{f['matrix_bits_per_param']:.3f}", _mb(f["matrix_bytes"]),
                  _mb(f["other_bytes"])] for fmt, f in files.items()]
    decode = data.get("decode", {})
    base = decode.get("F16", {}).get("tok_s")
    decode_rows = [[f"`{fmt}`", f"{d['tok_s']:,.0f} tok/s", f"{d['tok_s'] / base:.2f}x" if base else "",
                    _mb(d.get("peak_rss_bytes"))] for fmt, d in decode.items()]
    proj = data.get("projection_1b", {})
    proj_rows = [[f"`{fmt}`", f"{p['matrix_bytes_per_param']:.4f}", f"{p['matrix_mb']:,.0f} MB",
                  f"{p['embedding_mb']:,.0f} MB", f"{p['total_mb']:,.0f} MB", "yes" if p["under_target"] else "no"]
                 for fmt, p in proj.get("by_format", {}).items()]
    agree = data.get("ours_vs_llama_cpp", {})
    ptq = data.get("ptq_smollm2")
    command = f"{py} benchmarks/{data.get('command', 'ternary_model.py')}"
    out = [
        "## The ternary path: a tiny BitNet b1.58 model, llama.cpp and our T-MAC kernels\n",
        f"A {cfg.get('layers')}-layer Llama (hidden {cfg.get('hidden')}, SwiGLU {cfg.get('ffn')}, "
        f"{cfg.get('heads')}/{cfg.get('kv_heads')} heads, context {cfg.get('context')}) trained from scratch with "
        f"BitNet b1.58 quantization-aware training (AbsMean ternary weights, per-token int8 activations, straight-"
        f"through estimator) for {cfg.get('train', {}).get('steps')} steps on {cfg.get('train_tokens', 0):,} tokens "
        f"of {cfg.get('corpus')}; tokenizer: {cfg.get('tokenizer')}. Held out: {cfg.get('held_out_tokens', 0):,} "
        f"tokens of the topics {', '.join(cfg.get('held_out_topics', []))}. Training took "
        f"{train.get('ternary_qat', {}).get('seconds', 0):.0f} s (QAT) and "
        f"{train.get('float', {}).get('seconds', 0):.0f} s (fp32), torch with "
        f"{cfg.get('train', {}).get('threads')} thread, on a shared machine. Every perplexity below is on the same "
        f"held-out tokens, in non-overlapping windows of {cfg.get('context')}.\n",
        table(["held-out perplexity of", "perplexity", "tokens scored"], ppl_rows), "",
        "Ours against llama.cpp on the same file: "
        + ", ".join(f"{k.upper()} {100 * v:.2f}% apart" for k, v in agree.items())
        + " (goal: within 1%). Ours: " + str(ppl.get("ours_tmac_tq2_0", {}).get("matrix_path", "?"))
        + ", the rest of the forward pass in fp32 numpy; activations are quantized differently on "
        "each path (int8 per token in training, Q8_K per 256 in llama.cpp, int8 tables per 32 in ours).\n",
        table(["format", "file", "bits per matrix weight", "matrices", "embedding, norms, tokenizer"], file_rows), "",
        "llama.cpp greedy decode of the same model in each format (fresh process per run, same threads, ABBA "
        "order, medians, one shared 2-core machine); peak RSS is the whole process (Python, llama.cpp, model). At "
        "this size per-token overhead is a large share of every token, so the ratios say little about a large "
        "model's.\n",
        table(["format", "decode", "vs F16", "peak RSS"], decode_rows), "",
    ]
    if proj_rows:
        shape = proj.get("shape", {})
        out += [f"A 1B ternary model's memory, projected on paper from the bytes per weight measured above: a "
                f"Llama shape of {proj.get('matrix_params', 0) / 1e9:.2f}B matrix weights (hidden "
                f"{shape.get('hidden')}, {shape.get('layers')} layers, SwiGLU {shape.get('ffn')}, "
                f"{shape.get('heads')}/{shape.get('kv_heads')} heads) and a tied {shape.get('vocab')}-token F16 "
                f"embedding ({proj.get('embedding_params', 0) / 1e6:.0f}M), plus an F16 KV cache for "
                f"{shape.get('context')} tokens ({_mb(proj.get('kv_cache_bytes'))}) and the runtime as measured "
                f"here (peak RSS minus the model file: {_mb(proj.get('runtime_bytes'))}). Target: under "
                f"{proj.get('target_mb')} MB.\n",
                table(["matrices as", "bytes per weight", "matrices", "embedding", "total", "under target"],
                      proj_rows), ""]
    if ptq:
        out.append(f"Post-training ternarization does not work: {ptq['model']} (every decoder matrix ternarized with "
                   "AbsMean after training, no QAT) goes from a held-out perplexity of "
                   f"{ptq['as_shipped']['perplexity']:,.1f} to {ptq['ternarized']['perplexity']:,.0f} "
                   f"({ptq['as_shipped']['scored_tokens']} tokens of the same held-out text, its own tokenizer; "
                   "fp32 numpy forward). No such preset is shipped.\n")
    out += [f"Result: `{path.relative_to(root).as_posix()}`. Command: `{command}`", ""]
    return "\n".join(out)
