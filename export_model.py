"""Export a trained ALBERT as a SavedModel that TF Serving loads.

Writes `<export_dir>/<model_name>/<version>/` (the next free version; never replaces one)
with a raw-text `serving_default` signature (in-graph SentencePiece), an ids-only
signature, and warm-up requests. Examples:

    # a classifier fine-tuned with run_classifier (its best weights are used; the task,
    # labels, SentencePiece model, casing and length come from the run folder)
    python export_model.py --init_checkpoint=runs/sst2 --export_dir=exports

    # a question-answering model fine-tuned with run_squad: serving_default takes raw
    # question and context strings and returns the answer (settings from the run folder)
    python export_model.py --init_checkpoint=runs/squad --export_dir=exports \
        --model_name=squad

    # a pretrained encoder: encode / serving_default / encode_text_pair signatures
    python export_model.py --init_checkpoint=runs/pretrain --encoder_only \
        --spm_model_file=spm/albert.model --export_dir=exports --model_name=albert_encoder
"""

import json
import os

from absl import flags, logging

from albert_tf.cli.script import entry_point  # first: it quiets TensorFlow's C++ logs
from albert_tf.checkpoints.layout import RunLayout

QUESTION_ANSWERING = "question_answering"

flags.DEFINE_string("init_checkpoint", None, "Checkpoint prefix, checkpoint folder, or run "
                    "folder of run_classifier / run_pretraining.", required=True)
flags.DEFINE_string("albert_config_file", None,
                    "albert_config.json (default: the one in the run folder).")
flags.DEFINE_string("spm_model_file", None, "SentencePiece model (for the text signatures).")
flags.DEFINE_string("vocab_file", None, "WordPiece vocab.txt, for the text signatures of a "
                    "model without a SentencePiece model (the Chinese releases).")
flags.DEFINE_bool("do_lower_case", True, "Lower-case the text (as in training).")
flags.DEFINE_string("task_name", None, "The fine-tuning task (GLUE name or 'custom'); gives "
                    "the labels and whether the text signature takes a pair; "
                    f"'{QUESTION_ANSWERING}' for a run_squad model.")
flags.DEFINE_list("labels", None, "custom: label strings in id order.")
flags.DEFINE_enum("task_type", "classification", ["classification", "regression"],
                  "custom: what the model predicts.")
flags.DEFINE_bool("text_pair", False, "custom: the text signature takes text_a and text_b.")
flags.DEFINE_bool("encoder_only", False, "Export the encoder (pooled and sequence outputs).")
flags.DEFINE_string("export_dir", None, "Folder TF Serving watches.", required=True)
flags.DEFINE_string("model_name", "albert", "Model name (a folder under --export_dir).")
flags.DEFINE_integer("max_seq_length", None, "Longest packed input (default: the model's "
                     "max_position_embeddings; use the fine-tuning length).")
flags.DEFINE_bool("text_signatures", True, "Export raw-text signatures (tensorflow-text ops); "
                  "--notext_signatures writes an ids-only model with core ops only.")
flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16"],
                  "Compute precision of the served model (outputs stay float32).")
flags.DEFINE_list("warmup_texts", None, "Texts for the warm-up requests (default: two "
                  "built-in sentences; question answering: question, context, question, ...).")
# Question answering (run_squad's flags; defaults from its run folder).
flags.DEFINE_integer("doc_stride", 128, "Question answering: tokens between window starts.")
flags.DEFINE_integer("max_query_length", 64, "Question answering: question tokens kept.")
flags.DEFINE_integer("n_best_size", 20, "Question answering: starts and ends considered "
                     "per window.")
flags.DEFINE_integer("max_answer_length", 30, "Question answering: longest answer, tokens.")
flags.DEFINE_bool("version_2_with_negative", False, "Question answering: SQuAD v2.0 model "
                  "(outputs null_odds and has_answer).")
flags.DEFINE_enum("v2_head", "answerability", ["answerability", "null_score"],
                  "Question answering v2: the model's head.")
flags.DEFINE_integer("start_n_top", 5, "Question answering v2 answerability head: starts.")
flags.DEFINE_integer("end_n_top", 5, "Question answering v2 answerability head: ends each.")
flags.DEFINE_float("null_odds_threshold", None, "Question answering v2: null odds at or "
                   "above it answer ''. Default: the threshold the run's evaluation chose "
                   "(eval_results.json), else 0.")


def config_file(values) -> str:
    if values.albert_config_file:
        return values.albert_config_file
    candidate = RunLayout(values.init_checkpoint).config_file
    if os.path.isfile(candidate):
        return candidate
    from albert_tf.config import ConfigError
    raise ConfigError(f"--albert_config_file is needed: no albert_config.json in "
                      f"{values.init_checkpoint}")


# Flags whose default comes from the run folder's run_settings.json (a flag given wins).
RUN_DEFAULTS = ("task_name", "labels", "task_type", "text_pair", "spm_model_file",
                "vocab_file", "do_lower_case", "max_seq_length", "encoder_only")
QA_SETTINGS = ("doc_stride", "max_query_length", "n_best_size", "max_answer_length",
               "version_2_with_negative", "v2_head", "start_n_top", "end_n_top")


def run_folder_defaults(values) -> None:
    """Fills the flags not given from what the run in --init_checkpoint recorded."""
    if not os.path.isdir(values.init_checkpoint):
        return
    recorded = RunLayout(values.init_checkpoint).read_settings()
    if recorded is None:
        return
    defaults = {"max_seq_length": recorded.get("max_seq_length")}
    task = recorded.get("task")
    if recorded.get("kind") == "fine_tuning" and isinstance(task, dict):
        defaults.update(
            task_name=task.get("name"), labels=task.get("labels") or None,
            task_type="regression" if not task.get("labels") else "classification",
            text_pair=task.get("text_b") is not None,
            spm_model_file=recorded.get("spm_model_file"),
            vocab_file=recorded.get("vocab_file"),
            do_lower_case=recorded.get("do_lower_case"))
    elif recorded.get("kind") == QUESTION_ANSWERING:
        defaults.update({name: recorded.get(name) for name in QA_SETTINGS},
                        task_name=QUESTION_ANSWERING,
                        spm_model_file=recorded.get("spm_model_file"),
                        vocab_file=recorded.get("vocab_file"),
                        do_lower_case=recorded.get("do_lower_case"))
        results = RunLayout(values.init_checkpoint).results_file
        if os.path.isfile(results):
            with open(results, encoding="utf-8") as handle:
                defaults["null_odds_threshold"] = json.load(handle).get(
                    "null_score_diff_threshold")
    elif recorded.get("kind") == "pretraining" and not values["task_name"].present:
        defaults.update(encoder_only=True, spm_model_file=recorded.get("spm_model_file"),
                        vocab_file=recorded.get("vocab_file"),
                        do_lower_case=recorded.get("do_lower_case"))
    if values["spm_model_file"].present or values["vocab_file"].present:
        defaults.pop("spm_model_file", None)  # a tokenizer given replaces the recorded one
        defaults.pop("vocab_file", None)
    for name in RUN_DEFAULTS + QA_SETTINGS + ("null_odds_threshold",):
        if not values[name].present and defaults.get(name) is not None:
            values[name].value = defaults[name]
    logging.info("settings from %s: %s", RunLayout(values.init_checkpoint).settings_file,
                 {name: values[name].value for name in RUN_DEFAULTS + (
                    QA_SETTINGS if values.task_name == QUESTION_ANSWERING else ())})


def task_outputs(values):
    """(labels or None, number of outputs or None for an encoder, text pair)."""
    from albert_tf.data.glue import TaskDataError, get_task
    from albert_tf.export.saved_model import ExportError

    if values.encoder_only:
        return None, None, False
    if not values.task_name:
        raise ExportError("give --task_name (a classifier) or --encoder_only")
    if values.task_name.lower() != "custom":
        task = get_task(values.task_name)
        return task.labels, task.num_outputs, task.text_b is not None
    if values.task_type == "regression":
        return None, 1, values.text_pair
    if not values.labels:
        raise TaskDataError("--task_name=custom classification needs --labels")
    return values.labels, len(values.labels), values.text_pair


def main(values):
    from albert_tf.config import AlbertConfig
    from albert_tf.data.tokenizers import load_tokenizer
    from albert_tf.export.saved_model import (ServingModule, check_matches_run,
                                              export_saved_model, load_serving_model)
    from albert_tf.io_utils import check_writable

    check_writable(values.export_dir, "export_dir")
    run_folder_defaults(values)
    if values.task_name == QUESTION_ANSWERING:
        return export_question_answering(values)
    labels, num_outputs, pair = task_outputs(values)
    config = AlbertConfig.from_json_file(config_file(values))
    tokenizer = (load_tokenizer(values.spm_model_file, values.vocab_file, values.do_lower_case)
                 if values.spm_model_file or values.vocab_file else None)
    if not values.encoder_only:
        check_matches_run(values.init_checkpoint, tokenizer, values.task_name, labels)
    model = load_serving_model(config, values.init_checkpoint, num_outputs,
                               dtype=values.precision)
    max_seq_length = values.max_seq_length or config.max_position_embeddings
    module = ServingModule(model, tokenizer, max_seq_length, labels, pair,
                           values.text_signatures)
    path = export_saved_model(module, values.export_dir, values.model_name,
                              values.warmup_texts or ())
    logging.info("done: %s", path)
    print(path)


def export_question_answering(values):
    from albert_tf.config import AlbertConfig
    from albert_tf.data.tokenizers import load_tokenizer
    from albert_tf.export.question_answering import QAServingModule, load_qa_model
    from albert_tf.export.saved_model import ExportError, check_matches_run, export_saved_model

    if not (values.spm_model_file or values.vocab_file):
        raise ExportError("question answering needs the tokenizer: --spm_model_file or "
                          "--vocab_file")
    tokenizer = load_tokenizer(values.spm_model_file, values.vocab_file, values.do_lower_case)
    check_matches_run(values.init_checkpoint, tokenizer, QUESTION_ANSWERING, None)
    config = AlbertConfig.from_json_file(config_file(values))
    answerability = values.version_2_with_negative and values.v2_head == "answerability"
    model = load_qa_model(config, values.init_checkpoint, answerability, values.start_n_top,
                          values.end_n_top, dtype=values.precision)
    module = QAServingModule(
        model, tokenizer, values.max_seq_length or config.max_position_embeddings,
        values.doc_stride, values.max_query_length, values.n_best_size,
        values.max_answer_length, values.version_2_with_negative,
        values.null_odds_threshold or 0.0)
    path = export_saved_model(module, values.export_dir, values.model_name,
                              values.warmup_texts or ())
    logging.info("done: %s (null odds threshold %s)", path,
                 module.null_odds_threshold if module.version_2 else "-")
    print(path)


run = entry_point("export_model", main)


if __name__ == "__main__":
    run()
