"""The settings of each task (the flags of its entry script) as frozen dataclasses of plain
values. No TensorFlow here: the scripts define and check their flags before importing it.
"""

import dataclasses
from typing import Optional, Sequence

from albert_tf.data.glue import Task as GlueTask
from albert_tf.training.settings import LoopSettings


@dataclasses.dataclass(frozen=True, kw_only=True)
class PretrainingSettings(LoopSettings):
    """The run_pretraining flags as plain values."""

    input_files: Sequence[str]
    eval_files: Sequence[str] = ()
    max_seq_length: int = 512
    max_predictions_per_seq: int = 20
    max_eval_steps: int = 100
    # The tokenizer the records were made with (from their manifests), recorded in the run
    # folder so that export_model can add raw-text signatures without being told.
    spm_model_file: Optional[str] = None
    vocab_file: Optional[str] = None
    do_lower_case: bool = True


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClassifierSettings(LoopSettings):
    """The run_classifier flags as plain values (defaults: the original run_classifier)."""

    task: GlueTask
    data_dir: str
    spm_model_file: Optional[str] = None  # SentencePiece (it wins when both are given)
    vocab_file: Optional[str] = None  # WordPiece (the Chinese releases)
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


@dataclasses.dataclass(frozen=True, kw_only=True)
class QASettings(LoopSettings):
    """The original run_squad_v1 flags as plain values (its defaults); the training and
    warmup steps come from `training_steps` (epochs and warmup proportion) unless given.
    Feature files default to the run folder's data cache."""

    train_file: Optional[str] = None
    predict_file: Optional[str] = None
    train_feature_file: Optional[str] = None
    predict_feature_file: Optional[str] = None
    predict_feature_left_file: Optional[str] = None
    spm_model_file: Optional[str] = None
    vocab_file: Optional[str] = None
    do_lower_case: bool = True
    max_seq_length: int = 384
    doc_stride: int = 128
    max_query_length: int = 64
    do_train: bool = False
    do_predict: bool = False
    train_batch_size: int = 32
    predict_batch_size: int = 8
    learning_rate: float = 5e-5
    optimizer: str = "adamw"
    save_checkpoints_steps: int = 1000
    n_best_size: int = 20
    max_answer_length: int = 30
    evaluation: str = "squad"
    version_2_with_negative: bool = False
    v2_head: str = "answerability"
    start_n_top: int = 5
    end_n_top: int = 5
    dropout_prob: float = 0.1
