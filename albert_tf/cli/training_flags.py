"""Flags every training script shares (model, optimizer, loop, strategy, precision), defined
once; the scripts pass the parsed values to the library as plain settings."""

import contextlib
import dataclasses
from typing import Dict, Mapping, Type

from absl import flags

from albert_tf.errors import AlbertTfError
from albert_tf.training.loop import PRECISIONS, LoopSettings

# LoopSettings field -> (help text, flag kind)
_LOOP_FLAGS = {
    "init_checkpoint": ("Warm-start model weights from this checkpoint, checkpoint "
                        "directory or run directory.", "string"),
    "train_batch_size": ("Global training batch size (split across replicas).", "integer"),
    "eval_batch_size": ("Global eval batch size.", "integer"),
    "learning_rate": ("Peak learning rate.", "float"),
    "poly_power": ("Polynomial decay power.", "float"),
    "num_train_steps": ("Training steps.", "integer"),
    "num_warmup_steps": ("Linear warmup steps.", "integer"),
    "start_warmup_step": ("Step the warmup starts from.", "integer"),
    "save_checkpoints_steps": ("Steps between checkpoints.", "integer"),
    "keep_checkpoint_max": ("Checkpoints kept.", "integer"),
    "iterations_per_loop": ("Steps per tf.function call.", "integer"),
    "jit_compile": ("XLA-compile the training step (default: on for GPU/TPU, off for CPU, "
                    "where it measured slower).", "bool"),
    "seed": ("Seed for weights and data order.", "integer"),
    "log_steps": ("Steps between progress lines.", "integer"),
    "peak_flops": ("Peak FLOP/s of one replica's device at the chosen precision; when "
                   "given, model-FLOPs utilization is logged.", "float"),
}


def define_training_flags(settings_class: Type[LoopSettings],
                          renames: Mapping[str, str] = ()) -> None:
    """Defines the shared flags with `settings_class`'s defaults; `renames` maps a setting
    to the flag name a script has always used (run_classifier's `train_step`)."""
    renames = dict(renames)
    defaults = {f.name: f.default for f in dataclasses.fields(settings_class)}
    flags.DEFINE_string("output_dir", None, "Checkpoints, summaries, results.", required=True)
    flags.DEFINE_string("albert_config_file", None, "albert_config.json (or use --preset).")
    flags.DEFINE_string("preset", None, "A named config (base, large, xlarge, xxlarge, tiny).")
    for name, (help_text, kind) in _LOOP_FLAGS.items():
        getattr(flags, f"DEFINE_{kind}")(renames.get(name, name), defaults[name], help_text)
    flags.DEFINE_enum("optimizer", defaults["optimizer"], ["lamb", "adamw"], "Optimizer.")
    flags.DEFINE_enum("precision", "auto", list(PRECISIONS),
                      "Compute precision; auto picks the fastest measured for the device "
                      "(mixed_bfloat16 on TPU, Ampere+ GPUs and bfloat16-capable CPUs, "
                      "mixed_float16 on older GPUs, else float32).")
    flags.DEFINE_enum("strategy", "auto",
                      ["auto", "one_device", "mirrored", "multi_worker", "tpu"],
                      "tf.distribute strategy; auto picks the available devices.")
    flags.DEFINE_string("tpu", None, "TPU name or grpc:// address.")
    flags.DEFINE_integer("num_gpus", None, "GPUs to use (default: all).")


def training_values(values: flags.FlagValues, renames: Mapping[str, str] = ()) -> Dict:
    """The LoopSettings fields (except the config) from parsed flags."""
    renames = dict(renames)
    names = list(_LOOP_FLAGS) + ["optimizer", "precision", "output_dir"]
    return {name: values[renames.get(name, name)].value for name in names}


def strategy_and_config(values: flags.FlagValues):
    """The strategy (created first: multi-worker collectives must be set up before any
    other TF work) and the AlbertConfig from --albert_config_file or --preset."""
    from albert_tf.config import AlbertConfig, ConfigError
    from albert_tf.training.distribution import create_strategy

    strategy = create_strategy(values.strategy, values.num_gpus, values.tpu)
    if bool(values.albert_config_file) == bool(values.preset):
        raise ConfigError("give exactly one of --albert_config_file and --preset")
    config = (AlbertConfig.from_json_file(values.albert_config_file)
              if values.albert_config_file else AlbertConfig.from_preset(values.preset))
    return strategy, config


@contextlib.contextmanager
def exit_on_user_error(script: str):
    """Bad input (flags, files, checkpoints) ends the script with `script: message` and a
    non-zero status, without a traceback."""
    try:
        yield
    except AlbertTfError as error:
        raise SystemExit(f"{script}: {error}") from None
