"""ALBERT pretraining (masked LM + SOP) under tf.distribute; rerun the same command to resume.

Example:
    python run_pretraining.py --input_file='data/train.tfrecord-*' --output_dir=runs/base \
        --albert_config_file=albert_config.json --train_batch_size=4096 \
        --num_train_steps=125000 --num_warmup_steps=3125 --precision=mixed_bfloat16
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags, logging  # noqa: E402

from albert_tf.training.pretraining import PRECISIONS, PretrainingSettings  # noqa: E402

_DEFAULTS = {f.name: f.default for f in PretrainingSettings.__dataclass_fields__.values()}

flags.DEFINE_string("input_file", None, "Training TFRecords: comma-separated globs.")
flags.DEFINE_string("eval_file", None, "Eval TFRecords (default: --input_file).")
flags.DEFINE_string("output_dir", None, "Checkpoints, summaries, results.", required=True)
flags.DEFINE_string("albert_config_file", None, "albert_config.json (or use --preset).")
flags.DEFINE_string("preset", None, "A named config (base, large, xlarge, xxlarge, tiny).")
flags.DEFINE_string("init_checkpoint", None, "Warm-start model weights from this checkpoint.")
flags.DEFINE_integer("max_seq_length", _DEFAULTS["max_seq_length"], "Record sequence length.")
flags.DEFINE_integer("max_predictions_per_seq", _DEFAULTS["max_predictions_per_seq"],
                     "Record prediction slots.")
flags.DEFINE_integer("train_batch_size", _DEFAULTS["train_batch_size"], "Global batch size.")
flags.DEFINE_integer("eval_batch_size", _DEFAULTS["eval_batch_size"], "Global eval batch size.")
flags.DEFINE_float("learning_rate", _DEFAULTS["learning_rate"], "Peak learning rate.")
flags.DEFINE_enum("optimizer", _DEFAULTS["optimizer"], ["lamb", "adamw"], "Optimizer.")
flags.DEFINE_float("poly_power", _DEFAULTS["poly_power"], "Polynomial decay power.")
flags.DEFINE_integer("num_train_steps", _DEFAULTS["num_train_steps"], "Training steps.")
flags.DEFINE_integer("num_warmup_steps", _DEFAULTS["num_warmup_steps"], "Warmup steps.")
flags.DEFINE_integer("start_warmup_step", _DEFAULTS["start_warmup_step"], "Warmup start.")
flags.DEFINE_integer("save_checkpoints_steps", _DEFAULTS["save_checkpoints_steps"],
                     "Checkpoint interval.")
flags.DEFINE_integer("keep_checkpoint_max", _DEFAULTS["keep_checkpoint_max"],
                     "Checkpoints kept.")
flags.DEFINE_integer("iterations_per_loop", _DEFAULTS["iterations_per_loop"],
                     "Steps per tf.function call.")
flags.DEFINE_bool("do_train", True, "Train.")
flags.DEFINE_bool("do_eval", False, "Evaluate MLM/SOP on --eval_file.")
flags.DEFINE_integer("max_eval_steps", _DEFAULTS["max_eval_steps"], "Most eval batches.")
flags.DEFINE_enum("strategy", "auto", ["auto", "one_device", "mirrored", "multi_worker", "tpu"],
                  "tf.distribute strategy; auto picks the available devices.")
flags.DEFINE_string("tpu", None, "TPU name or grpc:// address.")
flags.DEFINE_integer("num_gpus", None, "GPUs to use (default: all).")
flags.DEFINE_enum("precision", _DEFAULTS["precision"], list(PRECISIONS), "Compute precision.")
flags.DEFINE_bool("jit_compile", False, "XLA-compile the training step.")
flags.DEFINE_integer("seed", _DEFAULTS["seed"], "Seed for weights and data order.")
flags.DEFINE_integer("log_steps", _DEFAULTS["log_steps"], "Steps between progress lines.")
flags.DEFINE_float("peak_flops", None, "Peak FLOP/s of one replica's device at the chosen "
                   "precision; when given, model-FLOPs utilization is logged.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    import keras

    from albert_tf.config import AlbertConfig, ConfigError
    from albert_tf.data.files import InputFileError, expand_file_patterns
    from albert_tf.data.pretraining_dataset import PretrainingRecordError
    from albert_tf.training.distribution import StrategyError, create_strategy
    from albert_tf.training.pretraining import TrainingError, run
    from albert_tf.training.warm_start import CheckpointMismatchError

    values = flags.FLAGS
    try:
        # First: multi-worker collectives must be set up before any other TF work.
        strategy = create_strategy(values.strategy, values.num_gpus, values.tpu)
        if bool(values.albert_config_file) == bool(values.preset):
            raise ConfigError("give exactly one of --albert_config_file and --preset")
        config = (AlbertConfig.from_json_file(values.albert_config_file)
                  if values.albert_config_file else AlbertConfig.from_preset(values.preset))
        train_files = expand_file_patterns(values.input_file, "input_file") \
            if values.do_train else []
        eval_files = expand_file_patterns(values.eval_file or values.input_file,
                                          "eval_file" if values.eval_file else "input_file") \
            if values.do_eval else []
        keras.utils.set_random_seed(values.seed)
        settings = PretrainingSettings(
            input_files=train_files, eval_files=eval_files, output_dir=values.output_dir,
            albert_config=config, **{name: values[name].value for name in (
                "init_checkpoint", "max_seq_length", "max_predictions_per_seq",
                "train_batch_size", "eval_batch_size", "learning_rate", "optimizer",
                "poly_power", "num_train_steps", "num_warmup_steps", "start_warmup_step",
                "save_checkpoints_steps", "keep_checkpoint_max", "iterations_per_loop",
                "do_train", "do_eval", "max_eval_steps", "precision", "jit_compile", "seed",
                "log_steps", "peak_flops")})
        results = run(settings, strategy)
    except (CheckpointMismatchError, ConfigError, InputFileError, PretrainingRecordError,
            StrategyError, TrainingError) as error:
        raise SystemExit(f"run_pretraining: {error}") from None
    logging.info("done: %s", results)


def run():
    app.run(main)


if __name__ == "__main__":
    run()
