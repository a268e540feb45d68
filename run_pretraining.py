"""ALBERT pretraining (masked LM + SOP) under tf.distribute; rerun the same command to resume.

Example:
    python run_pretraining.py --input_file='data/train.tfrecord-*' --output_dir=runs/base \
        --albert_config_file=albert_config.json --train_batch_size=4096 \
        --num_train_steps=125000 --num_warmup_steps=3125 --precision=mixed_bfloat16
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from albert_tf.tasks.pretraining import PretrainingSettings  # noqa: E402
from albert_tf.cli.training_flags import (  # noqa: E402
    define_training_flags, exit_on_user_error, strategy_and_config, training_values)

_DEFAULTS = {f.name: f.default for f in PretrainingSettings.__dataclass_fields__.values()}
LENGTH_FLAGS = ("max_seq_length", "max_predictions_per_seq")

define_training_flags(PretrainingSettings)
flags.DEFINE_string("input_file", None, "Training TFRecords: comma-separated globs.")
flags.DEFINE_string("eval_file", None, "Eval TFRecords (default: --input_file).")
flags.DEFINE_integer("max_seq_length", None, "Record sequence length (default: what the "
                     "records' create_pretraining_data manifest says, else "
                     f"{_DEFAULTS['max_seq_length']}).")
flags.DEFINE_integer("max_predictions_per_seq", None, "Record prediction slots (default: "
                     "from the manifest, else "
                     f"{_DEFAULTS['max_predictions_per_seq']}).")
flags.DEFINE_bool("do_train", True, "Train.")
flags.DEFINE_bool("do_eval", False, "Evaluate MLM/SOP on --eval_file.")
flags.DEFINE_integer("max_eval_steps", _DEFAULTS["max_eval_steps"], "Most eval batches.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from albert_tf.data.files import expand_file_patterns
    from albert_tf.data.pretraining_dataset import recorded_lengths
    from albert_tf.tasks.pretraining import run

    values = flags.FLAGS
    with exit_on_user_error("run_pretraining"):
        strategy, config = strategy_and_config(values)
        train_files = expand_file_patterns(values.input_file, "input_file") \
            if values.do_train else []
        eval_files = expand_file_patterns(values.eval_file or values.input_file,
                                          "eval_file" if values.eval_file else "input_file") \
            if values.do_eval else []
        lengths = {name: _DEFAULTS[name] for name in LENGTH_FLAGS}
        recorded = recorded_lengths(train_files + eval_files)
        if recorded:
            lengths = recorded
            logging.info("record lengths from the records' manifests: %s", recorded)
        lengths.update({name: values[name].value for name in LENGTH_FLAGS
                        if values[name].value is not None})
        settings = PretrainingSettings(
            input_files=train_files, eval_files=eval_files, albert_config=config,
            **training_values(values), **lengths, **{name: values[name].value for name in (
                "do_train", "do_eval", "max_eval_steps")})
        results = run(settings, strategy)
    logging.info("done: %s", results)


def run():
    app.run(main)


if __name__ == "__main__":
    run()
