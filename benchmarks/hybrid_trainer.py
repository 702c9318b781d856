"""The hybrid trainer against the plain one at equal steps (digits MLP and CNN, presets, >= 3 seeds) and VSA gradient
compression; needs the `[tune]` extra.

    .venv/bin/python benchmarks/hybrid_trainer.py --json benchmarks/results/hybrid_trainer.json
    .venv/bin/python benchmarks/hybrid_trainer.py --seeds 1 --mlp-steps 100 --cnn-steps 30     # while iterating

The third task, the LoRA tune of the 135M model over 3 seeds, and VSA compression of its real gradients with short
tunes that apply the compressed gradient (about 10 minutes on one thread; MODEL: its GGUF file):

    .venv/bin/python benchmarks/hybrid_trainer.py --no-digits --lora-steps 40 --lora-vsa --lora-model MODEL \\
        --json benchmarks/results/hybrid_trainer_lora.json
"""

from __future__ import annotations

from edgemind.core.bench.hybrid_training import main
from edgemind.core.bench.script import run_script

if __name__ == "__main__":
    run_script(main)
