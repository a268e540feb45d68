"""The settings every training run shares, as a frozen dataclass of plain values (no
TensorFlow here: the entry scripts define their flags from it before importing TensorFlow).
"""

import dataclasses
from typing import Optional

from albert_tf.config import AlbertConfig

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")

@dataclasses.dataclass(frozen=True, kw_only=True)
class LoopSettings:
    """The flags every training script shares, as plain values (defaults: pretraining's)."""

    output_dir: str
    albert_config: AlbertConfig
    init_checkpoint: Optional[str] = None
    train_batch_size: int = 4096
    eval_batch_size: int = 64
    learning_rate: float = 0.00176
    optimizer: str = "lamb"
    poly_power: float = 1.0
    num_train_steps: int = 125000
    num_warmup_steps: int = 3125
    start_warmup_step: int = 0
    save_checkpoints_steps: int = 5000
    keep_checkpoint_max: int = 5
    iterations_per_loop: int = 1000
    precision: str = "float32"
    jit_compile: Optional[bool] = None  # None: the device type's measured best
    seed: int = 12345
    log_steps: int = 100
    gradient_accumulation_steps: int = 1
    recompute_activations: bool = False
    peak_flops: Optional[float] = None
    do_train: bool = True
    do_eval: bool = False
