"""The one export path: a trained model (a run folder, or a bare checkpoint described by
its task's settings) to a versioned SavedModel for TF Serving, through its task's serving
module (the task registry names it). `export_model.py` and the train-then-export of
run_classifier / run_squad both come here.

Example:

    path = export_run("runs/sst2", "exports")             # exports/sst-2/1
    path = export_run("runs/squad", "exports", "squad",
                      ExportOptions(overrides={"n_best_size": 10}))
"""

import dataclasses
import os
from typing import Dict, List, Mapping, Optional, Sequence, Union

from absl import logging

from albert_tf.checkpoints.layout import RunLayout
from albert_tf.checkpoints.warm_start import CheckpointMismatchError, resolve_checkpoint
from albert_tf.config import AlbertConfig, ConfigError
from albert_tf.data.glue import TaskDataError, custom_task, get_task
from albert_tf.data.tokenizers import Tokenizer, load_tokenizer
from albert_tf.export.question_answering import load_qa_model
from albert_tf.export.saved_model import (ExportError, export_saved_model, load_serving_model,
                                          restore_for_serving)
from albert_tf.io_utils import check_new_folder
from albert_tf.models.pretrainer import AlbertPretrainer
from albert_tf.tasks.classification.settings import ClassifierSettings
from albert_tf.tasks.pretraining.settings import PretrainingSettings
from albert_tf.tasks.question_answering.settings import QASettings
from albert_tf.tasks.registry import (CLASSIFICATION, MULTIPLE_CHOICE, PRETRAINING,
                                      QUESTION_ANSWERING, entry)
from albert_tf.tasks.run_folder import RunFolder, folder_of, load_run
from albert_tf.training.settings import LoopSettings


# What export_model --format writes: a versioned SavedModel for TF Serving, or a folder
# for another library (see export_to).
FORMATS = ("saved_model", "hugging_face", "keras_hub", "tflite")


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """What an export sets beyond the trained model's own settings.

    Args:
        overrides: Settings of the run to serve with other values (only those the task's
            serving module lists in `EXPORT_SETTINGS`, e.g. `max_seq_length`, or question
            answering's `doc_stride`, `n_best_size`, ...); checked like the run's own.
        precision: `float32`, or `mixed_bfloat16` (outputs stay float32).
        text_signatures: Raw-text signatures (tensorflow-text ops); False: ids only.
        warmup_texts: Texts for TF Serving's warm-up requests (default: built in).
        encoder_only: A fine-tuned run's encoder alone (pooled and sequence outputs).
        null_odds_threshold: SQuAD v2.0: null odds at or above it answer "" (default: the
            threshold the run's evaluation chose, else 0).
        sub_batch_size: Classifier and encoder signatures (text and ids): a request's
            rows run in sub-batches of this many, sorted by length, each padded to its
            own longest rounded up to `length_multiple` (`export/sub_batches.py`); 0: the
            whole request at once.
        length_multiple: See `sub_batch_size`.
        qa_sub_batches: Question answering: the windows run in such sub-batches too (the
            original head's answers are unchanged; the span head's are unless padding
            would have been among a window's n-best: `export/question_answering.py`).
    """

    overrides: Mapping[str, object] = dataclasses.field(default_factory=dict)
    precision: str = "float32"
    text_signatures: bool = True
    warmup_texts: Sequence[str] = ()
    encoder_only: bool = False
    null_odds_threshold: Optional[float] = None
    sub_batch_size: int = 8
    length_multiple: int = 16
    qa_sub_batches: bool = False


@dataclasses.dataclass(frozen=True)
class ModelSource:
    """A trained model to export.

    Args:
        kind: Its task (a registry kind).
        settings: Its task's settings (a run folder's, or a bare checkpoint's description).
        checkpoint: Where its weights are: a run folder (a fine-tuning run's best weights
            first), a checkpoint folder or a prefix.
        tokenizer: Its tokenizer (None: it has none; only an ids-only export then).
        results: The run's evaluation results (question answering: its null threshold).
    """

    kind: str
    settings: LoopSettings
    checkpoint: str
    tokenizer: Optional[Tokenizer] = None
    results: Optional[Mapping[str, object]] = None

    def description(self) -> Dict[str, object]:
        """What the model is, as the flags that describe a bare checkpoint would say it."""
        settings = self.settings
        if self.kind == PRETRAINING:
            return {"task_name": None}
        if self.kind == MULTIPLE_CHOICE:
            return {"task_name": "race"}
        if self.kind == QUESTION_ANSWERING:
            return {"task_name": QUESTION_ANSWERING,
                    **{name: getattr(settings, name) for name in (
                        "version_2_with_negative", "v2_head", "start_n_top", "end_n_top")}}
        task = settings.task
        return {"task_name": task.name, "labels": list(task.labels) if task.labels else None,
                "task_type": "regression" if task.is_regression else "classification",
                "text_pair": task.text_b is not None}

    def check_description(self, given: Mapping[str, object]) -> None:
        """Refuses describing flags given for a run folder that say otherwise than it."""
        recorded = self.description()
        for name, value in given.items():
            if name == "albert_config_file":
                if AlbertConfig.from_json_file(value) != self.settings.albert_config:
                    raise ExportError(f"--albert_config_file {value} is not the config of "
                                      f"{self.checkpoint} (its albert_config.json); leave "
                                      "the flag out")
                continue
            if name not in recorded:
                continue  # a flag for another kind of model: nothing to contradict
            same = (str(value).lower() == str(recorded[name]).lower() if name == "task_name"
                    else value == recorded[name])
            if not same:
                raise ExportError(f"--{name}={value} but {self.checkpoint} is a {self.kind} "
                                  f"run with {name}={recorded[name]}; leave the flag out "
                                  "(the run folder says what it is)")


def run_source(run: RunFolder, spm_model_file: Optional[str] = None,
               vocab_file: Optional[str] = None,
               do_lower_case: Optional[bool] = None) -> ModelSource:
    """A run folder as a `ModelSource`: its own tokenizer copy (or the file given, which
    must be the run's)."""
    return ModelSource(run.kind, run.settings, run.folder,
                       run.tokenizer(spm_model_file, vocab_file, do_lower_case),
                       run.results())


def describe_checkpoint(checkpoint: str, albert_config_file: Optional[str] = None,
                        task_name: Optional[str] = None,
                        labels: Optional[Sequence[str]] = None,
                        task_type: str = "classification", text_pair: bool = False,
                        version_2_with_negative: bool = False,
                        v2_head: str = "answerability", start_n_top: int = 5,
                        end_n_top: int = 5, spm_model_file: Optional[str] = None,
                        vocab_file: Optional[str] = None, do_lower_case: bool = True,
                        encoder_only: bool = False) -> ModelSource:
    """A checkpoint that is not a run folder (a prefix, a checkpoint folder, a converted
    release) described by export_model's flags: `task_name` a classification task (GLUE,
    Chinese or `custom` with `labels` / `task_type` / `text_pair`),
    `question_answering`, or none with `encoder_only` for the encoder. Lengths default to
    the model's max_position_embeddings."""
    resolve_checkpoint(checkpoint)  # a missing checkpoint is named as such first
    if not (task_name or encoder_only):
        raise ExportError(f"{checkpoint} is not a run folder: give --task_name (a classifier "
                          "or question_answering) or --encoder_only")
    folder = folder_of(checkpoint)
    config_file = albert_config_file or RunLayout(folder).config_file
    if not albert_config_file and not os.path.isfile(config_file):
        raise ConfigError(f"--albert_config_file is needed: no albert_config.json in "
                          f"{folder}")
    config = AlbertConfig.from_json_file(config_file)
    tokenizer = (load_tokenizer(spm_model_file, vocab_file, do_lower_case)
                 if spm_model_file or vocab_file else None)
    common = dict(output_dir=folder, albert_config=config, do_train=False,
                  max_seq_length=config.max_position_embeddings,
                  spm_model_file=spm_model_file, vocab_file=vocab_file,
                  do_lower_case=do_lower_case)
    if not task_name:
        return ModelSource(PRETRAINING, PretrainingSettings(input_files=(), **common),
                           checkpoint, tokenizer)
    if task_name == QUESTION_ANSWERING:
        settings = QASettings(version_2_with_negative=version_2_with_negative,
                              v2_head=v2_head, start_n_top=start_n_top,
                              end_n_top=end_n_top, **common)
        return ModelSource(QUESTION_ANSWERING, settings, checkpoint, tokenizer)
    if task_name.lower() != "custom":
        task = get_task(task_name)
    elif task_type == "classification" and not labels:
        raise TaskDataError("--task_name=custom classification needs --labels")
    else:
        task = custom_task("", "text_a", "text_b" if text_pair else None, "label",
                           task_type == "regression", labels, extension=".tsv")
    return ModelSource(CLASSIFICATION, ClassifierSettings(task=task, data_dir="", **common),
                       checkpoint, tokenizer)


def with_overrides(source: ModelSource, overrides: Mapping[str, object]) -> LoopSettings:
    """The source's settings with the export's overrides, each one the serving module
    allows (the serving modules check their values as they build)."""
    allowed = entry(source.kind).serving().EXPORT_SETTINGS
    for name in overrides:
        if name not in allowed:
            raise ExportError(f"--{name} cannot be changed for a {source.kind} export (it "
                              f"is the trained model's); these can: {', '.join(allowed)}")
    return dataclasses.replace(source.settings, **overrides)


def export_source(source: ModelSource, export_dir: str, model_name: str,
                  options: ExportOptions = ExportOptions()) -> str:
    """Writes the next version of `model_name` under `export_dir` (see
    `export_saved_model`) and returns its folder."""
    serving = entry(source.kind).serving()
    settings = with_overrides(source, options.overrides)
    module = serving.serving_module(dataclasses.replace(source, settings=settings), options)
    path = export_saved_model(module, export_dir, model_name, options.warmup_texts)
    logging.info("exported %s %s to %s", source.kind, source.checkpoint, path)
    return path


def export_run(run: Union[str, RunFolder], export_dir: str, model_name: Optional[str] = None,
               options: ExportOptions = ExportOptions(), spm_model_file: Optional[str] = None,
               vocab_file: Optional[str] = None) -> str:
    """Exports a run folder (its path or `load_run`'s result) with its own settings and
    tokenizer; `model_name` defaults to the task's (`serving.default_model_name`)."""
    if isinstance(run, str):
        run = load_run(run)
    source = run_source(run, spm_model_file, vocab_file)
    name = model_name or entry(run.kind).serving().default_model_name(run.settings)
    return export_source(source, export_dir, name, options)


def trained_model(source: ModelSource, encoder_only: bool = False, with_heads: bool = True):
    """The source's model in float32 with every weight from its checkpoint: the
    classifier, the question-answering model, or for pretraining (and `encoder_only`) the
    encoder; a pretraining run's `AlbertPretrainer` with its MLM and SOP heads when
    `with_heads` and the checkpoint holds them."""
    config = source.settings.albert_config
    if encoder_only:
        return load_serving_model(config, source.checkpoint, None)
    if source.kind == CLASSIFICATION:
        return load_serving_model(config, source.checkpoint, source.settings.task.num_outputs)
    if source.kind == QUESTION_ANSWERING:
        settings = source.settings
        return load_qa_model(config, source.checkpoint, settings.answerability,
                             settings.start_n_top, settings.end_n_top)
    if source.kind == MULTIPLE_CHOICE:
        from albert_tf.tasks.multiple_choice.serving import load_multiple_choice_model
        return load_multiple_choice_model(config, source.checkpoint,
                                          source.settings.num_choices)
    if with_heads:
        pretrainer = AlbertPretrainer(config, dtype="float32")
        try:
            return restore_for_serving(pretrainer, source.checkpoint, "init_checkpoint",
                                       "a pretrainer with its MLM and SOP heads")
        except (ExportError, CheckpointMismatchError) as error:
            logging.info("%s; exporting the encoder alone", error)
    return load_serving_model(config, source.checkpoint, None)


def export_to(source: ModelSource, output_dir: str, export_format: str,
              options: ExportOptions = ExportOptions()) -> List[str]:
    """Writes the source as `export_format` (`hugging_face`, `keras_hub` or `tflite`) into
    the new (or empty) folder `output_dir`, whole or not at all; returns the notes the
    writer has for the user. What the format cannot hold is refused, naming the setting."""
    from albert_tf.checkpoints.hugging_face import write_hugging_face
    from albert_tf.checkpoints.keras_hub_preset import write_keras_hub_preset
    from albert_tf.export.tflite import write_tflite

    if export_format not in FORMATS[1:]:
        raise ExportError(f"--format={export_format}: expected one of {', '.join(FORMATS[1:])} "
                          "(saved_model goes through export_source)")
    if options.precision != "float32":
        raise ExportError(f"--precision={options.precision} is for SavedModel exports; a "
                          f"{export_format} export holds the float32 weights")
    check_new_folder(output_dir, "export_dir")
    settings = with_overrides(source, options.overrides)
    labels = (settings.task.labels if source.kind == CLASSIFICATION and not options.encoder_only
              else None)
    model = trained_model(source, options.encoder_only,
                          with_heads=export_format == "hugging_face")
    notes: List[str] = []
    if export_format == "hugging_face":
        write_hugging_face(model, output_dir, source.tokenizer, labels)
    elif export_format == "keras_hub":
        notes = write_keras_hub_preset(model, output_dir, source.tokenizer,
                                       settings.max_seq_length)
    else:
        write_tflite(model, output_dir, source.tokenizer, settings.max_seq_length, labels)
    logging.info("exported %s %s as %s to %s", source.kind, source.checkpoint, export_format,
                 output_dir)
    return notes
