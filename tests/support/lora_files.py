"""Small real GGUF LoRA adapters for tests: the keys and tensor layout llama.cpp's adapter loader reads, with
random weights so the adapter visibly moves the model (or zero B so it must not)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_lora(out: Path, base_gguf: Path, *, rank: int = 4, scale: float = 0.05, zero_b: bool = False,
               layers: tuple[int, ...] = (0, 1), targets: tuple[str, ...] = ("attn_q", "attn_v"),
               alpha: float = 8.0, seed: int = 0, arch: str | None = None) -> Path:
    """Write an adapter for `base_gguf` on `targets` in `layers`: lora_a is [rank, in] and lora_b [out, rank] in
    numpy order (llama.cpp checks them against the base tensor's shape). `arch`: claim another architecture."""
    import gguf  # the test extra ships it

    reader = gguf.GGUFReader(str(base_gguf))
    field = reader.fields["general.architecture"]
    arch = arch or bytes(field.parts[field.data[0]]).decode()
    shapes = {t.name: [int(n) for n in t.shape] for t in reader.tensors}  # GGUF order: [in, out]
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(out), arch)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", alpha)
    for layer in layers:
        for target in targets:
            name = f"blk.{layer}.{target}.weight"
            n_in, n_out = shapes[name][0], shapes[name][1]
            a = rng.normal(0, scale, (rank, n_in)).astype(np.float32)
            b = np.zeros((n_out, rank), np.float32) if zero_b else rng.normal(0, scale, (n_out, rank)).astype(np.float32)
            writer.add_tensor(f"{name}.lora_a", a)
            writer.add_tensor(f"{name}.lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out
