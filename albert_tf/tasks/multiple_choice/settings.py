"""The run_race flags as plain values (no TensorFlow: the script defines its flags from
this class before importing it)."""

import dataclasses
from typing import ClassVar, Mapping, Optional, Tuple

from albert_tf.data.packing import check_sequence_length
from albert_tf.data.race import LETTERS, LEVELS
from albert_tf.training.settings import LoopSettings, SettingsError


@dataclasses.dataclass(frozen=True, kw_only=True)
class RaceSettings(LoopSettings):
    """The run_race flags as plain values (defaults: the original run_race's).

    The tokenizer: `spm_model_file` or `vocab_file`; when neither is given, the copy in
    `output_dir` (a resumed run) or in the `init_checkpoint` run folder.
    """

    FLAG_NAMES: ClassVar[Mapping[str, str]] = {"num_train_steps": "train_step",
                                               "num_warmup_steps": "warmup_step",
                                               "dropout_rate": "dropout_prob"}

    data_dir: str
    spm_model_file: Optional[str] = None
    vocab_file: Optional[str] = None
    do_lower_case: bool = True
    max_seq_length: int = 512
    max_qa_length: int = 128
    num_choices: int = 4
    high_only: bool = False
    middle_only: bool = False
    dropout_rate: float = 0.1
    do_predict: bool = False
    predict_batch_size: int = 8
    export_dir: Optional[str] = None
    export_model_name: Optional[str] = None  # default: race
    train_batch_size: int = 32
    eval_batch_size: int = 8
    learning_rate: float = 1e-5
    optimizer: str = "adamw"
    num_train_steps: int = 12000
    num_warmup_steps: int = 1000
    save_checkpoints_steps: int = 100
    iterations_per_loop: int = 1000
    log_steps: int = 100

    @property
    def levels(self) -> Tuple[str, ...]:
        """The levels read (the original's order: middle, then high)."""
        return tuple(level for level in LEVELS
                     if not (level == "middle" and self.high_only)
                     and not (level == "high" and self.middle_only))

    @property
    def letters(self) -> Tuple[str, ...]:
        return tuple(LETTERS[:self.num_choices])

    def validate(self) -> None:
        super().validate()
        if not (self.do_train or self.do_eval or self.do_predict):
            raise SettingsError("at least one of --do_train, --do_eval and --do_predict "
                                "must be set")
        if self.high_only and self.middle_only:
            raise SettingsError("--high_only and --middle_only exclude each other")
        check_sequence_length(self.max_seq_length, self.albert_config.max_position_embeddings)
        if self.max_qa_length < 1 or self.max_qa_length + 3 >= self.max_seq_length:
            raise SettingsError(f"--max_qa_length={self.max_qa_length} must be at least 1 "
                                f"and leave room for the article in --max_seq_length="
                                f"{self.max_seq_length}")
        if not 2 <= self.num_choices <= len(LETTERS):
            raise SettingsError(f"--num_choices must be in [2, {len(LETTERS)}], got "
                                f"{self.num_choices}")
        self._at_least("predict_batch_size", 1)
        if not 0.0 <= self.dropout_rate < 1.0:
            raise SettingsError(f"--dropout_prob must be in [0, 1), got {self.dropout_rate}")
