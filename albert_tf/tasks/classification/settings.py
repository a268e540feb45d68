"""The run_classifier flags as plain values (no TensorFlow: the script defines its flags
from this class before importing it)."""

import dataclasses
from typing import ClassVar, Mapping, Optional

from albert_tf.data.glue import TaskSpec
from albert_tf.data.packing import check_sequence_length
from albert_tf.training.settings import LoopSettings, SettingsError


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClassifierSettings(LoopSettings):
    """The run_classifier flags as plain values (defaults: the original run_classifier).

    The tokenizer: `spm_model_file` (SentencePiece; it wins when both are given) or
    `vocab_file` (WordPiece, the Chinese releases); when neither is given, the copy in
    `output_dir` (a resumed run) or in the `init_checkpoint` run folder.
    """

    FLAG_NAMES: ClassVar[Mapping[str, str]] = {"num_train_steps": "train_step",
                                               "num_warmup_steps": "warmup_step"}

    task: TaskSpec
    data_dir: str
    spm_model_file: Optional[str] = None
    vocab_file: Optional[str] = None
    do_lower_case: bool = True
    max_seq_length: int = 512
    predict_batch_size: int = 8
    batch_by_length: bool = True  # False: every example padded to max_seq_length
    dropout_rate: float = 0.1
    do_predict: bool = False
    export_dir: Optional[str] = None
    export_model_name: Optional[str] = None  # default: the task name, lower-cased
    train_batch_size: int = 32
    eval_batch_size: int = 8
    learning_rate: float = 5e-5
    optimizer: str = "adamw"
    num_train_steps: int = 1000
    num_warmup_steps: int = 0
    save_checkpoints_steps: int = 1000
    iterations_per_loop: int = 100
    log_steps: int = 100

    def validate(self) -> None:
        super().validate()
        if not (self.do_train or self.do_eval or self.do_predict):
            raise SettingsError("at least one of --do_train, --do_eval and --do_predict "
                                "must be set")
        check_sequence_length(self.max_seq_length, self.albert_config.max_position_embeddings)
        self._at_least("predict_batch_size", 1)
        if not 0.0 <= self.dropout_rate < 1.0:
            raise SettingsError(f"dropout_rate must be in [0, 1), got {self.dropout_rate}")
