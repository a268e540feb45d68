"""What the fine-tuning tasks share: the tokenizer their settings name, a data cache in the
run folder, and warm starts of the encoder (from a pretraining run, a converted
checkpoint, or a run of the same task)."""

from typing import List, Optional

from albert_tf.checkpoints.layout import RunLayout
from albert_tf.checkpoints.warm_start import Candidate
from albert_tf.data.tokenizers import Tokenizer, load_tokenizer
from albert_tf.training.task import Task


class EncoderFineTuningTask(Task):
    """A `Task` whose model is heads on `model.encoder`, over settings with
    `spm_model_file`, `vocab_file` and `do_lower_case`.

    Args:
        settings: The run's settings.
        tokenizer: The tokenizer, when the caller has one (else built from the settings).
    """

    def __init__(self, settings, tokenizer: Optional[Tokenizer] = None):
        super().__init__(settings)
        self._tokenizer = tokenizer
        self.cache_dir = RunLayout(settings.output_dir).data_cache_dir

    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.settings.spm_model_file,
                                             self.settings.vocab_file,
                                             self.settings.do_lower_case)
        return self._tokenizer

    def warm_start_roots(self, model) -> List[Candidate]:
        encoder = model.encoder
        return [(("model", "encoder"), encoder), (("encoder",), encoder),
                (("model",), model)]
