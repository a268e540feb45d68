"""Fine-tune ALBERT on a GLUE task or your own TSV/CSV: train, evaluate, predict.

The original run_classifier's flag names, so run_glue.sh-style scripts work. Example:
    python run_classifier.py --task_name=SST-2 --data_dir=glue/SST-2 --output_dir=runs/sst2 \
        --init_checkpoint=runs/base --albert_config_file=runs/base/albert_config.json \
        --spm_model_file=spm/albert.model --max_seq_length=128 --train_batch_size=32 \
        --learning_rate=1e-5 --train_step=20935 --warmup_step=1256 --do_train --do_eval \
        --do_predict

Your own data: --task_name=custom with train/dev/test .tsv or .csv files (header row) in
--data_dir, and --text_a_column, optional --text_b_column, --label_column, --task_type.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from albert_tf.tasks.classification import ClassifierSettings  # noqa: E402
from albert_tf.cli.training_flags import (  # noqa: E402
    define_training_flags, exit_on_user_error, strategy_and_config, training_values)

RENAMES = {"num_train_steps": "train_step", "num_warmup_steps": "warmup_step"}
_DEFAULTS = {f.name: f.default for f in ClassifierSettings.__dataclass_fields__.values()}

define_training_flags(ClassifierSettings, RENAMES)
flags.DEFINE_string("task_name", None, "A GLUE task (CoLA, SST-2, MRPC, STS-B, QQP, MNLI, "
                    "QNLI, RTE, WNLI, AX) or 'custom'.", required=True)
flags.DEFINE_string("data_dir", None, "The task's files.", required=True)
flags.DEFINE_string("spm_model_file", None, "SentencePiece model.", required=True)
flags.DEFINE_bool("do_lower_case", _DEFAULTS["do_lower_case"], "Lower-case the text.")
flags.DEFINE_integer("max_seq_length", _DEFAULTS["max_seq_length"], "Packed sequence length.")
flags.DEFINE_integer("predict_batch_size", _DEFAULTS["predict_batch_size"],
                     "Prediction batch size.")
flags.DEFINE_bool("do_train", False, "Fine-tune on train.")
flags.DEFINE_bool("do_eval", False, "Evaluate on dev after every checkpoint.")
flags.DEFINE_bool("do_predict", False, "Write GLUE submission files for the test split(s).")
flags.DEFINE_string("export_dir", None, "Export the best weights for TF Serving to "
                    "<export_dir>/<export_model_name>/<version>/ when done.")
flags.DEFINE_string("export_model_name", None, "Model name under --export_dir (default: the "
                    "task name, lower-cased).")
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


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from albert_tf.cli.fine_tuning import run

    values = flags.FLAGS
    with exit_on_user_error("run_classifier"):
        strategy, config = strategy_and_config(values)
        settings = ClassifierSettings(
            task=load_task(values), albert_config=config, **training_values(values, RENAMES),
            **{name: values[name].value for name in (
                "data_dir", "spm_model_file", "do_lower_case", "max_seq_length",
                "predict_batch_size", "do_train", "do_eval", "do_predict", "export_dir",
                "export_model_name")})
        results = run(settings, strategy)
    logging.info("done: %s", results)


def run():
    app.run(main)


if __name__ == "__main__":
    run()
