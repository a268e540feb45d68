"""What the fine-tuning tasks share: the tokenizer (the one the settings name, else the copy
in the run folder being resumed or in the run folder warm-started from), a data cache in
the run folder, and warm starts of the encoder (from a pretraining run, a converted
checkpoint, or a run of the same task); for classification and multiple choice also
evaluation after every checkpoint with the best weights kept, predictions and the
export (`EvaluatedFineTuningTask`)."""

from typing import Dict, List, Optional

import tensorflow as tf
from absl import logging

from albert_tf.checkpoints.layout import RunLayout
from albert_tf.checkpoints.warm_start import Candidate
from albert_tf.data.tokenizers import Tokenizer, check_tokenizer_fits, load_tokenizer
from albert_tf.io_utils import check_writable
from albert_tf.tasks.export_run import export_run
from albert_tf.tasks.run_folder import find_run, is_run_folder, load_run
from albert_tf.training.best_checkpoint import BestCheckpointKeeper
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


def check_fine_tuning_run(settings) -> None:
    """What the settings' own `validate()` cannot know: whether the folder holds the weights
    a prediction-only run needs, and whether the export folder can be written."""
    layout = RunLayout(settings.output_dir)
    has_weights = (tf.train.latest_checkpoint(layout.checkpoint_dir)
                   or tf.io.gfile.exists(layout.best_prefix + ".index"))
    if settings.do_predict and not settings.do_train and not has_weights:
        raise TrainingError(f"--do_predict: {settings.output_dir} holds no fine-tuned "
                            "weights (no checkpoint, no best/), so the predictions would "
                            "come from an untrained head; add --do_train")
    if settings.export_dir:
        check_writable(settings.export_dir, "export_dir")


class EvaluatedFineTuningTask(EncoderFineTuningTask):
    """An `EncoderFineTuningTask` evaluated on dev after every checkpoint, keeping the
    weights of the best evaluation by `main_metric` (`BestCheckpointKeeper`), then
    predicting and exporting as its settings (`do_eval`, `do_predict`, `export_dir`,
    `export_model_name`) ask. Subclasses implement `evaluate(loop)` (a results dict with
    `step`), `predict(loop)` and `default_export_name`, and call `start_keeping(loop)`
    from `after_restore`."""

    main_metric = "accuracy"
    unit = "examples"  # what a training example is called in messages
    keeper: Optional[BestCheckpointKeeper] = None

    def needed_splits(self) -> List[str]:
        raise NotImplementedError

    def examples(self, split: str) -> list:
        raise NotImplementedError

    def validate(self, strategy) -> None:
        """Also reads every split the run needs (a bad row stops it before anything is
        written) and checks the prediction weights and the export folder."""
        super().validate(strategy)
        settings = self.settings
        check_fine_tuning_run(settings)
        for split in self.needed_splits():
            self.examples(split)
        if settings.do_train and settings.train_batch_size > len(self.examples("train")):
            raise TrainingError(f"--train_batch_size={settings.train_batch_size} is larger "
                                f"than the {len(self.examples('train'))} training {self.unit}")

    @property
    def default_export_name(self) -> str:
        raise NotImplementedError

    def evaluate(self, loop) -> Dict[str, float]:
        raise NotImplementedError

    def predict(self, loop):
        raise NotImplementedError

    def start_keeping(self, loop) -> None:
        self.keeper = BestCheckpointKeeper(loop.layout, self.main_metric, loop.is_chief)
        self.keeper.load(loop.step)

    def evaluate_and_keep_best(self, loop) -> Dict[str, float]:
        results = self.evaluate(loop)
        self.keeper.record(results, loop.model)
        return results

    def on_checkpoint(self, loop, step: int) -> None:
        if self.settings.do_eval:
            self.evaluate_and_keep_best(loop)

    def conclude(self, loop) -> Dict[str, object]:
        settings = self.settings
        results: Dict[str, object] = {}
        if settings.do_eval:
            if self.keeper.latest is None or self.keeper.latest["step"] != loop.step:
                self.evaluate_and_keep_best(loop)
            results["eval"] = self.keeper.latest
            results["best"] = self.keeper.best
        if settings.do_predict:
            results["predictions"] = self.predict(loop)
        if settings.export_dir and loop.is_chief:
            results["export"] = export_run(settings.output_dir, settings.export_dir,
                                           settings.export_model_name
                                           or self.default_export_name)
        return results
