"""GGUF LoRA export: llama.cpp with the exported adapter computes what transformers + PEFT computes (issue 20).

A LoRA with random non-zero B (seeded) moves the logits far; the runtimes must then agree to r >= 0.999 on the full
logits and on the adapter's own effect. The agreement is measured on a float32 copy of the base (the weights
transformers computes with) and a float32 KV cache, because llama.cpp's quantized matmuls alone put the two bases
~0.999 apart and a strong adapter on Qwen2 overflows a float16 cache; the shipped quantized base is checked too.
Model answers are not compared: a wrong q/k layout can still give a plausible answer.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from edgemind.core.errors import AdapterMismatch, EdgeMindError, ModelError
from edgemind.core.tuning.gguf_float import float_copy
from edgemind.core.tuning.gguf_lora import check_adapter_file, compare_logits, export_lora

TINY_FILE = "smollm2-135m-instruct-q4_1.gguf"
PROMPT = "The capital of France is Paris. The capital of Japan is"
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
CHECKOUT = Path(__file__).resolve().parents[2]


@contextmanager
def _checkout_off_path() -> Iterator[None]:
    """transformers 5 imports the `kernels` distribution at import time; pytest puts this checkout first on sys.path,
    where our own top-level `kernels` folder would shadow it. Import the stack with the checkout off the path."""
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != CHECKOUT]
    try:
        yield
    finally:
        sys.path[:] = saved


def _stack() -> tuple[Any, Any]:
    """torch and peft (skipping when the optional `[tune]` stack is absent), imported past the `kernels` shadow."""
    with _checkout_off_path():
        torch = pytest.importorskip("torch")
        pytest.importorskip("transformers")
        import transformers.modeling_utils  # noqa: F401  (pulls in the real `kernels` while the path is clean)

        peft = pytest.importorskip("peft")
        pytest.importorskip("gguf")
    torch.set_num_threads(1)
    return torch, peft


def _peft(model: Any, *, rank: int = 8, alpha: float = 16.0, b_std: float = 0.1, seed: int = 0, **extra: Any) -> Any:
    """`model` wrapped in a LoRA whose A (PEFT's own init) and B (random, std `b_std`) are fixed by `seed`."""
    torch, peft = _stack()
    torch.manual_seed(seed)
    wrapped = peft.get_peft_model(model, peft.LoraConfig(r=rank, lora_alpha=alpha, target_modules=TARGETS,
                                                         lora_dropout=0.0, **extra))
    gen = torch.Generator().manual_seed(seed)
    for module in wrapped.modules():
        if hasattr(module, "lora_B") and "default" in module.lora_B:
            weight = module.lora_B["default"].weight
            weight.data = torch.randn(weight.shape, generator=gen) * b_std
    return wrapped.eval()


def _load(path: Path) -> Any:
    torch, _ = _stack()
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def tiny_path(models_dir: Path) -> Path:
    return models_dir / TINY_FILE


@pytest.fixture(scope="module")
def tiny_float(tiny_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _stack()

    return float_copy(tiny_path, tmp_path_factory.mktemp("float") / "smollm2-f32.gguf")


@pytest.fixture(scope="module")
def tiny_lora(tiny_path: Path) -> Any:
    """SmolLM2-135M (Llama architecture) from its GGUF, with a seeded random rank-8 LoRA on all seven projections."""
    return _peft(_load(tiny_path))


@pytest.fixture(scope="module")
def tiny_llama(tiny_path: Path, llama_cpp_for: Callable[[Path], ModuleType]) -> ModuleType:
    return llama_cpp_for(tiny_path)


def _small_llama(**overrides: Any) -> Any:
    """A randomly initialised one-block Llama with SmolLM2's widths: what export sees, in a fraction of a second."""
    _stack()
    from transformers import LlamaConfig, LlamaForCausalLM

    config: dict[str, Any] = {"vocab_size": 256, "hidden_size": 576, "intermediate_size": 1536,
                              "num_hidden_layers": 1, "num_attention_heads": 9, "num_key_value_heads": 3}
    config.update(overrides)
    return LlamaForCausalLM(LlamaConfig(**config))


@pytest.mark.slow  # the default run stays under 15 minutes; EDGEMIND_SLOW=1 runs it (and CI does)
def test_llama_adapter_in_llama_cpp_matches_peft_logits(tiny_lora: Any, tiny_path: Path, tiny_float: Path,
                                                        tiny_llama: ModuleType, tmp_path: Path) -> None:

    adapter = tmp_path / "adapter.gguf"
    export_lora(tiny_lora, tiny_path, adapter, alpha=16.0)
    got = compare_logits(tiny_float, adapter, tiny_lora, PROMPT, llama=tiny_llama, kv_float32=True)
    assert got.base_correlation >= 0.9999, got  # same weights in both runtimes: any gap below is the adapter's
    # the adapter moves the logits far more than the 0.001 the runtimes may disagree by
    assert got.adapter_shift > 0.02, got
    assert got.correlation >= 0.999, got
    assert got.delta_correlation >= 0.999, got


@pytest.mark.slow  # the default run stays under 15 minutes; EDGEMIND_SLOW=1 runs it (and CI does)
def test_llama_adapter_without_the_qk_permutation_disagrees(tiny_lora: Any, tiny_path: Path, tiny_float: Path,
                                                            tiny_llama: ModuleType, tmp_path: Path) -> None:
    """The same adapter with q/k rows in Hugging Face order: llama.cpp loads it, and its logits drift."""

    adapter = tmp_path / "unpermuted.gguf"
    export_lora(tiny_lora, tiny_path, adapter, alpha=16.0, permute_qk=False)
    got = compare_logits(tiny_float, adapter, tiny_lora, PROMPT, llama=tiny_llama, kv_float32=True)
    assert got.correlation < 0.999, got
    assert got.delta_correlation < 0.99, got


@pytest.mark.slow
def test_llama_adapter_on_the_shipped_quantized_base_agrees_with_peft(
        tiny_lora: Any, tiny_path: Path, tiny_llama: ModuleType, tmp_path: Path) -> None:
    """On the Q4_1 file users run (bases ~0.999 apart by llama.cpp's 8-bit activations alone) the adapted logits
    still agree to 0.999, and the unpermuted export's do not (measured 0.9996 against 0.996)."""

    right, wrong = tmp_path / "right.gguf", tmp_path / "wrong.gguf"
    export_lora(tiny_lora, tiny_path, right, alpha=16.0)
    export_lora(tiny_lora, tiny_path, wrong, alpha=16.0, permute_qk=False)
    good = compare_logits(tiny_path, right, tiny_lora, PROMPT, llama=tiny_llama)
    bad = compare_logits(tiny_path, wrong, tiny_lora, PROMPT, llama=tiny_llama)
    assert good.correlation >= 0.999, good
    assert good.delta_correlation >= 0.98, good
    assert bad.correlation < 0.999, bad


@pytest.mark.slow
@pytest.mark.default_model
@pytest.mark.timeout(900)  # ~4 min on a busy 2-core machine: a 2 GB float copy and a 0.5B model
def test_qwen2_adapter_in_llama_cpp_matches_peft_logits(default_model_installed: Path, tmp_path: Path,
                                                         llama_cpp_for: Callable[[Path], ModuleType]) -> None:
    """Qwen2 keeps q/k in Hugging Face order (no permutation); the 0.5B model's float copy is ~2 GB, so slow."""

    base = default_model_installed
    model = _peft(_load(base))
    adapter = tmp_path / "adapter.gguf"
    export_lora(model, base, adapter, alpha=16.0)
    reference = float_copy(base, tmp_path / "qwen-f32.gguf")
    got = compare_logits(reference, adapter, model, PROMPT, llama=llama_cpp_for(base), kv_float32=True)
    assert got.base_correlation >= 0.9999, got
    assert got.adapter_shift > 0.02, got
    assert got.correlation >= 0.999, got
    assert got.delta_correlation >= 0.999, got


def test_exported_adapter_has_llama_cpp_metadata_and_tensor_layout(tiny_path: Path, tmp_path: Path) -> None:
    _stack()
    import gguf


    model = _peft(_small_llama(), rank=4, alpha=8.0)
    out = tmp_path / "a.gguf"
    export_lora(model, tiny_path, out, alpha=8.0)
    reader = gguf.GGUFReader(out)
    assert reader.fields["general.architecture"].contents() == "llama"
    assert reader.fields["general.type"].contents() == "adapter"
    assert reader.fields["adapter.type"].contents() == "lora"
    assert reader.fields["adapter.lora.alpha"].contents() == pytest.approx(8.0)
    shapes = {t.name: tuple(int(d) for d in t.shape) for t in reader.tensors}
    assert len(shapes) == 14
    assert shapes["blk.0.attn_q.weight.lora_a"] == (576, 4)  # ggml order: (in, rank)
    assert shapes["blk.0.attn_q.weight.lora_b"] == (4, 576)  # (rank, out)
    assert shapes["blk.0.attn_k.weight.lora_b"] == (4, 192)
    assert shapes["blk.0.ffn_down.weight.lora_a"] == (1536, 4)
    assert {t.tensor_type for t in reader.tensors} == {gguf.GGMLQuantizationType.F32}
    assert not out.with_name(out.name + ".partial").exists()


def test_qk_permutation_is_llama_cpps_row_order(tiny_path: Path, tmp_path: Path) -> None:
    """Rows of B for q move as llama.cpp's converter moves q's rows; v is untouched."""
    _stack()
    import gguf


    model = _peft(_small_llama(), rank=4, alpha=8.0)
    export_lora(model, tiny_path, tmp_path / "a.gguf", alpha=8.0)
    tensors = {t.name: np.array(t.data) for t in gguf.GGUFReader(tmp_path / "a.gguf").tensors}
    attn = model.base_model.model.model.layers[0].self_attn
    b_q = attn.q_proj.lora_B["default"].weight.detach().numpy()
    head = 576 // 9
    # llama.cpp's row r of head h holds HF row h*64 + (r//2 if r even else 32 + r//2)
    hf_rows = [h * head + (r // 2 if r % 2 == 0 else head // 2 + r // 2) for h in range(9) for r in range(head)]
    np.testing.assert_array_equal(tensors["blk.0.attn_q.weight.lora_b"], b_q[hf_rows])
    b_v = attn.v_proj.lora_B["default"].weight.detach().numpy()
    np.testing.assert_array_equal(tensors["blk.0.attn_v.weight.lora_b"], b_v)


def test_export_refuses_an_adapter_trained_on_other_shapes(tiny_path: Path, tmp_path: Path) -> None:

    model = _peft(_small_llama(hidden_size=512, num_attention_heads=8, num_key_value_heads=4))
    with pytest.raises(AdapterMismatch, match="trained on another model") as err:
        export_lora(model, tiny_path, tmp_path / "a.gguf", alpha=16.0)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "a.gguf").exists()


def test_export_refuses_an_adapter_of_another_architecture(tiny_path: Path, tmp_path: Path) -> None:
    _stack()
    from transformers import Qwen2Config, Qwen2ForCausalLM


    qwen = Qwen2ForCausalLM(Qwen2Config(vocab_size=256, hidden_size=576, intermediate_size=1536, num_hidden_layers=1,
                                        num_attention_heads=9, num_key_value_heads=3))
    with pytest.raises(AdapterMismatch, match="qwen2 model, the base model is llama"):
        export_lora(_peft(qwen), tiny_path, tmp_path / "a.gguf", alpha=16.0)


def test_export_refuses_a_scaling_llama_cpp_would_not_apply(tiny_path: Path, tmp_path: Path) -> None:
    """rsLoRA scales by alpha/sqrt(rank); llama.cpp by alpha/rank: the file would mean another adapter."""

    model = _peft(_small_llama(), use_rslora=True)
    with pytest.raises(AdapterMismatch, match="alpha/rank"):
        export_lora(model, tiny_path, tmp_path / "a.gguf", alpha=16.0)
    with pytest.raises(AdapterMismatch, match="alpha/rank"):
        export_lora(_peft(_small_llama()), tiny_path, tmp_path / "b.gguf", alpha=32.0)


def test_export_refuses_a_base_that_is_not_gguf(tmp_path: Path) -> None:

    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"not a model at all" * 10)
    with pytest.raises(ModelError) as err:
        export_lora(_peft(_small_llama()), fake, tmp_path / "a.gguf", alpha=16.0)
    assert isinstance(err.value, EdgeMindError) and "model.gguf" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ModelError, match="cannot be read"):
        export_lora(_peft(_small_llama()), tmp_path / "missing.gguf", tmp_path / "a.gguf", alpha=16.0)


@pytest.mark.default_model
def test_an_adapter_for_another_architecture_is_refused_before_llama_cpp_loads_it(
        tiny_path: Path, default_model_installed: Path, tmp_path: Path,
        llama_cpp_for: Callable[[Path], ModuleType]) -> None:
    """A llama adapter handed to the Qwen2 base is refused before llama.cpp sees it (llama-cpp-python 0.3.36 reports
    llama.cpp's refusal as a loaded adapter, and the first decode then crashes the process)."""
    adapter = tmp_path / "a.gguf"
    export_lora(_peft(_small_llama()), tiny_path, adapter, alpha=16.0)
    with pytest.raises(AdapterMismatch, match="adapter 'a.gguf' is for a llama model; its base is qwen2") as err:
        compare_logits(default_model_installed, adapter, None, PROMPT, llama=llama_cpp_for(default_model_installed))
    assert "\n" not in str(err.value)


def test_an_adapter_file_with_other_shapes_or_no_adapter_keys_is_refused(tiny_path: Path, tmp_path: Path) -> None:
    _stack()
    import gguf

    def write(out: Path, *, n_in: int, kind: str = "adapter") -> Path:
        writer = gguf.GGUFWriter(out, arch="llama")
        writer.add_string("general.type", kind)
        writer.add_string("adapter.type", "lora")
        writer.add_float32("adapter.lora.alpha", 8.0)
        writer.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((4, n_in), np.float32))
        writer.add_tensor("blk.0.attn_q.weight.lora_b", np.zeros((576, 4), np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return out

    check_adapter_file(write(tmp_path / "fits.gguf", n_in=576), tiny_path)
    with pytest.raises(AdapterMismatch, match="'wide.gguf' does not fit its base: blk.0.attn_q.weight"):
        check_adapter_file(write(tmp_path / "wide.gguf", n_in=512), tiny_path)
    with pytest.raises(AdapterMismatch, match="not a GGUF LoRA adapter"):
        check_adapter_file(write(tmp_path / "model.gguf", n_in=576, kind="model"), tiny_path)
