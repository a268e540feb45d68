r"""Fine-tune ALBERT on a GLUE task or your own TSV/CSV: train, evaluate, predict.

The original run_classifier's flag names, so run_glue.sh-style scripts work. Example:
    python run_classifier.py --task_name=SST-2 --data_dir=glue/SST-2 --output_dir=runs/sst2 \
        --init_checkpoint=runs/base --albert_config_file=runs/base/albert_config.json \
        --spm_model_file=spm/albert.model --max_seq_length=128 --train_batch_size=32 \
        --learning_rate=1e-5 --train_step=20935 --warmup_step=1256 --do_train --do_eval \
        --do_predict

A Chinese model: --vocab_file=vocab.txt instead of --spm_model_file.

Your own data: --task_name=custom with train/dev/test .tsv or .csv files (header row) in
--data_dir, and --text_a_column, optional --text_b_column, --label_column, --task_type.
"""

import math

from absl import flags, logging

from albert_tf.cli.script import (  # first: it quiets TensorFlow's C++ logs
    define_flags, entry_point, settings_from_flags)
from albert_tf.cli.training_flags import (define_training_flags, strategy_and_config,
                                          training_values, warmup_steps)
from albert_tf.tasks.classification.settings import ClassifierSettings

SETTINGS_FLAGS = {
    "data_dir": "The task's files.",
    "spm_model_file": "SentencePiece model (ALBERT's English releases). Default: the copy in "
                      "--output_dir when resuming, else in the --init_checkpoint run folder.",
    "vocab_file": "WordPiece vocab.txt, used when no --spm_model_file is given (the Chinese "
                  "releases).",
    "do_lower_case": "Lower-case the text.",
    "max_seq_length": "Packed sequence length.",
    "predict_batch_size": "Prediction batch size.",
    "batch_by_length": "Batch examples of similar length together and cut each batch to "
                       "its longest example (training, evaluation and prediction); "
                       "--nobatch_by_length pads every example to --max_seq_length, as the "
                       "original does. Same examples per step either way.",
    "do_train": "Fine-tune on train.",
    "do_eval": "Evaluate on dev after every checkpoint.",
    "do_predict": "Write submission files for the test split(s): GLUE's <name>.tsv, or "
                  "CLUE's <name>_predict.json for its JSON-lines tasks.",
    "export_dir": "Export the best weights for TF Serving to "
                  "<export_dir>/<export_model_name>/<version>/ when done.",
    "export_model_name": "Model name under --export_dir (default: the task name, "
                         "lower-cased).",
}

define_training_flags(ClassifierSettings)
define_flags(ClassifierSettings, SETTINGS_FLAGS, defaults={"do_train": False})
flags.DEFINE_float("num_train_epochs", None, "Train for this many passes over the training "
                   "file instead of --train_step: the steps are ceil(examples x epochs / "
                   "--train_batch_size).")
flags.DEFINE_float("warmup_proportion", None, "Warm up over this share of --train_step "
                   "when --warmup_step is not given (default: --warmup_step, 0 as in the "
                   "original).")
flags.mark_flags_as_required(["data_dir"])
flags.DEFINE_string("task_name", None, "A GLUE task (CoLA, SST-2, MRPC, STS-B, QQP, MNLI, "
                    "QNLI, RTE, WNLI, AX), a Chinese one (ChnSentiCorp, LCQMC, and CLUE's "
                    "AFQMC, TNEWS, IFLYTEK, CMNLI) or 'custom'.", required=True)
flags.DEFINE_string("text_a_column", None, "custom: the first text column's header name.")
flags.DEFINE_string("text_b_column", None, "custom: the second text column, if any.")
flags.DEFINE_string("label_column", "label", "custom: the label column's header name.")
flags.DEFINE_enum("task_type", "classification", ["classification", "regression"],
                  "custom: what the label is.")
flags.DEFINE_list("labels", None, "custom: label strings in id order (default: every label "
                  "of the training file, sorted).")


def load_task(values):
    from albert_tf.data.glue import TaskDataError, custom_task, get_task

    if values.task_name.lower() != "custom":
        return get_task(values.task_name)
    if not values.text_a_column:
        raise TaskDataError("--task_name=custom needs --text_a_column")
    return custom_task(values.data_dir, values.text_a_column, values.text_b_column,
                       values.label_column, values.task_type == "regression", values.labels)


def epoch_steps(values, examples: int) -> int:
    """--train_step from --num_train_epochs and the number of training examples."""
    from albert_tf.training.settings import SettingsError

    if values["train_step"].present:
        raise SettingsError("give --train_step or --num_train_epochs, not both")
    if not values.num_train_epochs > 0:
        raise SettingsError(f"--num_train_epochs must be positive, got "
                            f"{values.num_train_epochs}")
    if not values.do_train:
        return values.train_step
    steps = max(1, math.ceil(examples * values.num_train_epochs / values.train_batch_size))
    logging.info("--num_train_epochs=%g: %d training examples / batch %d -> %d steps",
                 values.num_train_epochs, examples, values.train_batch_size, steps)
    return steps


def main(values):
    from albert_tf.tasks.classification.task import run

    strategy, config = strategy_and_config(values)
    task = load_task(values)
    loop_values = training_values(values, ClassifierSettings)
    if values.num_train_epochs is not None:
        loop_values["num_train_steps"] = epoch_steps(
            values, len(task.read(values.data_dir, "train")) if values.do_train else 0)
    loop_values.update(warmup_steps(values, ClassifierSettings,
                                    loop_values["num_train_steps"], values.warmup_proportion))
    settings = ClassifierSettings(
        task=task, albert_config=config, **loop_values,
        **settings_from_flags(values, SETTINGS_FLAGS))
    logging.info("done: %s", run(settings, strategy))


run = entry_point("run_classifier", main)

if __name__ == "__main__":
    run()
