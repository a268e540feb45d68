"""What the fine-tuning tasks share: the tokenizer (the one the settings name, else the copy
in the run folder being resumed or in the run folder warm-started from), a data cache in
the run folder, and warm starts of the encoder (from a pretraining run, a converted
checkpoint, or a run of the same task)."""

from typing import Dict, List, Optional

from absl import logging

from albert_tf.checkpoints.layout import RunLayout
from albert_tf.checkpoints.warm_start import Candidate
from albert_tf.data.tokenizers import Tokenizer, check_tokenizer_fits, load_tokenizer
from albert_tf.tasks.run_folder import find_run, is_run_folder, load_run
from albert_tf.training.loop import TrainingError
from albert_tf.training.task import Task


def run_tokenizer(settings) -> Tokenizer:
    """The tokenizer of a fine-tuning run: the file its settings name (`spm_model_file`,
    else `vocab_file`); without one, the copy kept in `output_dir` (a resumed run), else in
    the `init_checkpoint` run folder, with that run's lower-casing. A file given that is
    not the tokenizer the init_checkpoint run was trained with is an error naming both."""
    given = settings.spm_model_file or settings.vocab_file
    source = find_run(settings.init_checkpoint)
    if given:
        tokenizer = load_tokenizer(settings.spm_model_file, settings.vocab_file,
                                   settings.do_lower_case)
        if source is not None and source.tokenizer_sha256 not in (None, tokenizer.model_sha256):
            raise TrainingError(
                f"--{tokenizer.file_setting} {tokenizer.source_file} is not the tokenizer "
                f"--init_checkpoint {source.folder} was trained with (its copy "
                f"{source.settings.spm_model_file or source.settings.vocab_file}, sha256 "
                f"{source.tokenizer_sha256[:12]}... vs {tokenizer.model_sha256[:12]}...): "
                "the embeddings would read other ids; leave the flag out to use the run's")
        return tokenizer
    for where, run in (("--output_dir", load_run(settings.output_dir)
                        if is_run_folder(settings.output_dir) else None),
                       ("--init_checkpoint", source)):
        tokenizer = run.tokenizer() if run is not None else None
        if tokenizer is not None:  # the run's file and lower-casing, as it was trained
            logging.info("tokenizer from %s %s: %s (do_lower_case=%s)", where, run.folder,
                         tokenizer.source_file, tokenizer.lower_case)
            return tokenizer
    raise TrainingError("give the tokenizer: --spm_model_file (SentencePiece) or --vocab_file "
                        "(WordPiece); neither --output_dir nor --init_checkpoint is a run "
                        "folder holding one")


class EncoderFineTuningTask(Task):
    """A `Task` whose model is heads on `model.encoder`, over settings with
    `spm_model_file`, `vocab_file` and `do_lower_case`.

    Args:
        settings: The run's settings.
        tokenizer: The tokenizer, when the caller has one (else `run_tokenizer(settings)`).
    """

    def __init__(self, settings, tokenizer: Optional[Tokenizer] = None):
        super().__init__(settings)
        self._tokenizer = tokenizer
        self.cache_dir = RunLayout(settings.output_dir).data_cache_dir

    @property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            self._tokenizer = run_tokenizer(self.settings)
        return self._tokenizer

    @property
    def run_tokenizer(self) -> Tokenizer:
        return self.tokenizer

    def validate(self, strategy) -> None:
        check_tokenizer_fits(self.tokenizer, self.settings.albert_config.vocab_size)

    def tokenizer_identity(self) -> Dict[str, object]:
        return {"tokenizer_sha256": self.tokenizer.model_sha256,
                "do_lower_case": self.tokenizer.lower_case}

    def warm_start_roots(self, model) -> List[Candidate]:
        encoder = model.encoder
        return [(("model", "encoder"), encoder), (("encoder",), encoder),
                (("model",), model)]
