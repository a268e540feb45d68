"""The run_squad flags as plain values (no TensorFlow: the script defines its flags from
this class before importing it)."""

import dataclasses
from typing import Optional

from albert_tf.data.packing import check_sequence_length
from albert_tf.training.settings import LoopSettings, SettingsError

# The official metrics run_squad scores with (SQuAD v2.0 follows version_2_with_negative).
EVALUATIONS = ("squad", "cmrc2018")
# SQuAD v2.0 heads: the original ALBERT's (run_squad_v2), or BERT's / Hugging Face's span
# head whose null score is the [CLS] start + end logits.
V2_HEADS = ("answerability", "null_score")


@dataclasses.dataclass(frozen=True, kw_only=True)
class QASettings(LoopSettings):
    """The original run_squad_v1 flags as plain values (its defaults). Feature files
    default to the run folder's data cache; the tokenizer is found as ClassifierSettings'
    is."""

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
    num_train_steps: int = 1000
    num_warmup_steps: int = 100
    save_checkpoints_steps: int = 1000
    n_best_size: int = 20
    max_answer_length: int = 30
    evaluation: str = "squad"
    version_2_with_negative: bool = False
    v2_head: str = "answerability"
    start_n_top: int = 5
    end_n_top: int = 5
    dropout_prob: float = 0.1
    export_dir: Optional[str] = None
    export_model_name: Optional[str] = None  # default: squad (cmrc2018 for that metric)

    @property
    def answerability(self) -> bool:
        """The model is the original run_squad_v2's (answerability head)."""
        return self.version_2_with_negative and self.v2_head == "answerability"

    def validate(self) -> None:
        super().validate()
        if not (self.do_train or self.do_predict):
            raise SettingsError("at least one of --do_train and --do_predict must be set")
        for flag, needed in (("train_file", self.do_train), ("predict_file", self.do_predict)):
            if needed and not getattr(self, flag):
                raise SettingsError(f"--{flag} is required with --do_"
                                    f"{'train' if flag == 'train_file' else 'predict'}")
        check_sequence_length(self.max_seq_length, self.albert_config.max_position_embeddings)
        for field in ("doc_stride", "start_n_top", "end_n_top", "max_query_length",
                      "predict_batch_size", "n_best_size", "max_answer_length"):
            self._at_least(field, 1)
        if self.max_query_length + 4 > self.max_seq_length:
            raise SettingsError(f"--max_query_length={self.max_query_length} leaves no room "
                                f"for the context in --max_seq_length={self.max_seq_length}")
        self._one_of("v2_head", V2_HEADS)
        self._one_of("evaluation", EVALUATIONS)
        if not 0.0 <= self.dropout_prob < 1.0:
            raise SettingsError(f"--dropout_prob must be in [0, 1), got {self.dropout_prob}")
