r"""ALBERT pretraining (masked LM + SOP) under tf.distribute; rerun the same command to resume.

Example:
    python run_pretraining.py --input_file='data/train.tfrecord-*' --output_dir=runs/base \
        --albert_config_file=albert_config.json --train_batch_size=4096 \
        --num_train_steps=125000 --num_warmup_steps=3125 --precision=mixed_bfloat16
"""

from absl import flags, logging

from albert_tf.cli.script import (  # first: it quiets TensorFlow's C++ logs
    define_flags, entry_point, settings_from_flags)
from albert_tf.cli.training_flags import (define_training_flags, strategy_and_config,
                                          training_values)
from albert_tf.tasks.pretraining.settings import PretrainingSettings

_DEFAULTS = {f.name: f.default for f in PretrainingSettings.__dataclass_fields__.values()}
LENGTH_FLAGS = ("max_seq_length", "max_predictions_per_seq")

define_training_flags(PretrainingSettings)
flags.DEFINE_string("input_file", None, "Training TFRecords: comma-separated globs.")
flags.DEFINE_string("eval_file", None, "Eval TFRecords (default: --input_file).")
define_flags(PretrainingSettings, {
    "max_seq_length": "Record sequence length (default: what the records' "
                      "create_pretraining_data manifest says, else "
                      f"{_DEFAULTS['max_seq_length']}).",
    "max_predictions_per_seq": "Record prediction slots (default: from the manifest, else "
                               f"{_DEFAULTS['max_predictions_per_seq']}).",
    "do_train": "Train.",
    "do_eval": "Evaluate MLM/SOP on --eval_file.",
    "max_eval_steps": "Most eval batches.",
    "eval_name": "Name of the eval set: the results go to "
                 "<output_dir>/eval_results_<name>.json and TensorBoard's eval_<name>/ "
                 "(default: the eval file's name, e.g. heldout for heldout.tfrecord).",
}, defaults={name: None for name in LENGTH_FLAGS})


def main(values):
    from albert_tf.data.files import expand_file_patterns
    from albert_tf.data.pretraining_dataset import recorded_lengths, recorded_tokenizer
    from albert_tf.tasks.pretraining.task import run

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
        **training_values(values, PretrainingSettings), **lengths,
        **(recorded_tokenizer(train_files + eval_files) or {}),
        **settings_from_flags(values, ("do_train", "do_eval", "max_eval_steps",
                                       "eval_name")))
    logging.info("done: %s", run(settings, strategy))


run = entry_point("run_pretraining", main)

if __name__ == "__main__":
    run()
