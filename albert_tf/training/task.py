"""What to train, apart from how: the seam every task (pretraining, classification, the
next ones) plugs into, as Model Garden's `base_task.Task` is to its trainer.

A `Task` builds the model and the training data, computes each replica's contribution to
the logged values, and says what happens around training (evaluation, outputs). The one
`TrainingLoop` (loop.py) owns the optimizer, checkpoints, summaries and the distributed
step; the one driver (driver.py) runs any task. Adding a task is a new `Task` subclass
(under albert_tf/tasks/), its head (models/), its data reader (data/) and an entry script.
"""

from typing import Dict, List, Optional, Tuple

import keras
import tensorflow as tf

from albert_tf.checkpoints.warm_start import Candidate


class Task:
    """A training task over settings (a `LoopSettings` subclass with the task's fields).

    Subclasses set `kind` (the task registry's name, recorded in run_settings.json) and
    `logged` (the names `replica_losses` returns, "loss" first, the one minimized), and
    implement `build_model`, `train_dataset`, `replica_losses`, `warm_start_roots`,
    `model_identity` and `data_identity`; the hooks below default to doing nothing. The
    hooks receive the `TrainingLoop` running the task (its `model`, `step`, `layout`,
    `is_chief` and `distribute`).
    """

    kind: str = ""
    logged: Tuple[str, ...] = ("loss",)

    def __init__(self, settings):
        self.settings = settings

    # -- what every task supplies ----------------------------------------------------------

    @property
    def sequence_length(self) -> int:
        """Tokens per sequence (for tokens/s)."""
        return self.settings.max_seq_length

    @property
    def flops_per_sequence(self) -> float:
        """Training FLOPs of one sequence (for model-FLOPs utilization)."""
        raise NotImplementedError

    def build_model(self) -> keras.Model:
        raise NotImplementedError

    def train_dataset(self, context: tf.distribute.InputContext) -> tf.data.Dataset:
        """The repeating training data for one input pipeline (batched per replica)."""
        raise NotImplementedError

    def replica_losses(self, model: keras.Model, features: Dict[str, tf.Tensor],
                       training: bool, global_batch: int,
                       update_totals: Optional[Dict[str, tf.Tensor]] = None
                       ) -> Dict[str, tf.Tensor]:
        """This replica's contribution to each name in `logged` (its share of the
        global-batch value: summing over replicas, and over the micro-batches of an
        accumulated update, gives the one-device number). `update_totals` is what
        `update_totals` computed over the whole update when gradients are accumulated
        (None otherwise)."""
        raise NotImplementedError

    def update_totals(self, micro_batches: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        """Sums over a whole update (this replica's [k, micro-batch, ...] features, summed
        across replicas) that the losses normalize by, for gradient accumulation: none
        by default (losses that are means over examples need none)."""
        return {}

    def warm_start_roots(self, model: keras.Model) -> List[Candidate]:
        """Where `init_checkpoint` may keep parts of `model`."""
        raise NotImplementedError

    def model_identity(self) -> Dict[str, object]:
        """What the run's weights are (task, labels, tokenizer, head), as JSON values: a
        run folder holding weights refuses a run of another model
        (training/run_record.py). Called before `validate`."""
        return {}

    def data_identity(self) -> Dict[str, object]:
        """What the weights are trained on (the training data's content hash, lengths,
        batch), as JSON values: resuming under others needs `new_phase`. Called after
        `validate`."""
        return {}

    @property
    def run_tokenizer(self):
        """The tokenizer the run folder keeps a copy of (None: the task has none)."""
        return None

    # -- hooks -----------------------------------------------------------------------------

    def validate(self, strategy: tf.distribute.Strategy) -> None:
        """Checks everything about the settings and the data that can fail, before the run
        writes anything; raises a `TrainingError` (or another `AlbertTfError`)."""

    def find_damaged_data(self) -> Optional[str]:
        """Which input file (and record) a mid-run DataLossError came from, if known."""
        return None

    def after_restore(self, loop) -> None:
        """Called once the weights are restored (resumed or warm-started)."""

    def on_checkpoint(self, loop, step: int) -> None:
        """Called after every checkpoint saved during training."""

    def after_training(self, loop, values: Dict[str, float]) -> None:
        """Called when training ends (also when there was nothing left to train)."""

    def conclude(self, loop) -> Dict[str, object]:
        """The evaluations and outputs the settings ask for after training, by name."""
        return {}
