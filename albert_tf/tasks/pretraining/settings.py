"""The run_pretraining flags as plain values (no TensorFlow: the script defines its flags
from this class before importing it).

>>> eval_set_name(["data/heldout.tfrecord-00000-of-00004", "data/heldout.tfrecord-00001-of-00004"])
'heldout'
>>> eval_set_name(["corpus/wiki_dev.tfrecord"]), eval_set_name(["x.tfrecord"], "zh dev")
('wiki_dev', 'zh_dev')
"""

import dataclasses
import os
import re
from typing import Optional, Sequence

from albert_tf.data.packing import check_sequence_length
from albert_tf.training.settings import LoopSettings, SettingsError


@dataclasses.dataclass(frozen=True, kw_only=True)
class PretrainingSettings(LoopSettings):
    """The run_pretraining flags as plain values.

    `spm_model_file` / `vocab_file` / `do_lower_case` are the tokenizer the records were
    made with (their manifests say); the run folder keeps a copy, so that exports get
    raw-text signatures and fine-tuning finds it without being told.
    """

    input_files: Sequence[str]
    eval_files: Sequence[str] = ()
    max_seq_length: int = 512
    max_predictions_per_seq: int = 20
    max_eval_steps: int = 100
    # The eval set's name in its results file, eval_results_<name>.json (default: the
    # first eval file's name without its shard suffix and extension).
    eval_name: Optional[str] = None
    spm_model_file: Optional[str] = None
    vocab_file: Optional[str] = None
    do_lower_case: bool = True

    def validate(self) -> None:
        super().validate()
        if not (self.do_train or self.do_eval):
            raise SettingsError("at least one of --do_train and --do_eval must be set")
        check_sequence_length(self.max_seq_length, self.albert_config.max_position_embeddings)
        if not 1 <= self.max_predictions_per_seq <= self.max_seq_length:
            raise SettingsError(f"--max_predictions_per_seq={self.max_predictions_per_seq} "
                                "must be between 1 and --max_seq_length")
        self._at_least("max_eval_steps", 1)
        if self.do_train and not self.input_files:
            raise SettingsError("--do_train needs --input_file")
        if self.do_eval and not self.eval_files:
            raise SettingsError("--do_eval needs --eval_file")

    @property
    def eval_results_name(self) -> str:
        return eval_set_name(self.eval_files, self.eval_name)


_SHARD_SUFFIX = re.compile(r"-\d{5}-of-\d{5}$")
_RECORD_EXTENSIONS = (".tfrecords", ".tfrecord", ".records", ".record")


def eval_set_name(eval_files: Sequence[str], given: Optional[str] = None) -> str:
    """The name an evaluation's results file carries: `given` (characters other than
    letters, digits, `.`, `_` and `-` become `_`), else the first eval file's base name
    without a `-NNNNN-of-NNNNN` shard suffix and a TFRecord extension."""
    name = given
    if not name:
        name = _SHARD_SUFFIX.sub("", os.path.basename(eval_files[0] if eval_files else "eval"))
        for extension in _RECORD_EXTENSIONS:
            if name.endswith(extension) and len(name) > len(extension):
                name = name[:-len(extension)]
                break
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)
