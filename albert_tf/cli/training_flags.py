"""Flags every training script shares (model, optimizer, loop, strategy, precision), defined
once from `LoopSettings`; the scripts pass the parsed values to the library as plain
settings."""

import dataclasses
from typing import Dict, Optional, Type

from absl import flags

from albert_tf.cli.script import define_flags, settings_from_flags
from albert_tf.config import AlbertConfig
from albert_tf.training.settings import PRECISIONS, LoopSettings, SettingsError

# LoopSettings field -> help text
_LOOP_FLAGS = {
    "init_checkpoint": "Warm-start model weights from this checkpoint, checkpoint directory "
                       "or run directory.",
    "train_batch_size": "Global training batch size (split across replicas).",
    "eval_batch_size": "Global eval batch size.",
    "learning_rate": "Peak learning rate.",
    "poly_power": "Polynomial decay power.",
    "num_train_steps": "Training steps.",
    "num_warmup_steps": "Linear warmup steps.",
    "start_warmup_step": "Step the warmup starts from.",
    "save_checkpoints_steps": "Steps between checkpoints.",
    "keep_checkpoint_max": "Checkpoints kept.",
    "iterations_per_loop": "Steps per tf.function call.",
    "jit_compile": "XLA-compile the training step (default: on for GPU/TPU, off for CPU, "
                   "where it measured slower).",
    "seed": "Seed for weights and data order.",
    "eval_in_float32": "Evaluate and predict in float32 even when training in mixed "
                       "precision, so the scores and predictions are what the (float32) "
                       "export serves; --noeval_in_float32 uses the training precision "
                       "(faster on bfloat16 hardware, answers may differ).",
    "log_steps": "Steps between progress lines.",
    "gradient_accumulation_steps": "Split each update's --train_batch_size into this many "
                                   "micro-batches, summing their gradients before one "
                                   "update (the same update in less memory).",
    "recompute_activations": "Recompute each transformer block's activations in the "
                             "backward pass instead of keeping them (less memory, about "
                             "one more forward pass; needs the config's dropout at 0).",
    "peak_flops": "Peak FLOP/s of one replica's device at the chosen precision; when given, "
                  "model-FLOPs utilization is logged.",
    "new_phase": "Resume an --output_dir whose training settings (sequence length, training "
                 "data, batch size) differ from the ones recorded: the weights train on "
                 "under the new ones and run_settings.json records the phase. Without it "
                 "such a resume is refused, listing the differences.",
}


# AlbertConfig field -> help text: the model's size from the command line, on top of the
# config the run starts from.
MODEL_FLAGS = {
    "vocab_size": "Vocabulary size (the tokenizer's pieces; the presets have 30000).",
    "embedding_size": "Embedding size E (factorized: V x E, then E -> H).",
    "hidden_size": "Hidden size H.",
    "num_hidden_layers": "Transformer layers run.",
    "num_hidden_groups": "Groups of parameters the layers share (the original's).",
    "inner_group_num": "Blocks inside each group (the original's).",
    "num_attention_heads": "Attention heads.",
    "intermediate_size": "Feed-forward inner size.",
    "max_position_embeddings": "Position embeddings (the longest sequence).",
    "sharing": "What the layers share: all, attention, ffn or none.",
    "hidden_dropout_prob": "Dropout on the hidden states.",
    "attention_probs_dropout_prob": "Dropout on the attention probabilities.",
}


def define_training_flags(settings_class: Type[LoopSettings]) -> None:
    """Defines the shared flags with `settings_class`'s defaults, named as its
    `FLAG_NAMES` says (run_classifier's `train_step`)."""
    flags.DEFINE_string("output_dir", None, "Checkpoints, summaries, results.", required=True)
    flags.DEFINE_string("albert_config_file", None, "albert_config.json (or --preset; "
                        "default: the one in --output_dir when resuming, else the one "
                        "beside --init_checkpoint).")
    flags.DEFINE_string("preset", None, "A named config (base, large, xlarge, xxlarge, tiny).")
    define_flags(AlbertConfig, {
        name: f"{text} Default: the config's (--preset, --albert_config_file, or the run "
              "folder's)." for name, text in MODEL_FLAGS.items()},
        defaults={name: None for name in MODEL_FLAGS})
    define_flags(settings_class, _LOOP_FLAGS, settings_class.FLAG_NAMES)
    optimizer = next(f.default for f in dataclasses.fields(settings_class)
                     if f.name == "optimizer")
    flags.DEFINE_enum("optimizer", optimizer, ["lamb", "adamw"], "Optimizer.")
    flags.DEFINE_enum("precision", "auto", list(PRECISIONS),
                      "Compute precision; auto picks the fastest measured for the device "
                      "(mixed_bfloat16 on TPU, Ampere+ GPUs and bfloat16-capable CPUs, "
                      "mixed_float16 on older GPUs, else float32).")
    flags.DEFINE_enum("strategy", "auto",
                      ["auto", "one_device", "mirrored", "multi_worker", "tpu"],
                      "tf.distribute strategy; auto picks the available devices.")
    flags.DEFINE_string("tpu", None, "TPU name or grpc:// address.")
    flags.DEFINE_integer("num_gpus", None, "GPUs to use (default: all).")


def training_values(values: flags.FlagValues, settings_class: Type[LoopSettings]) -> Dict:
    """The LoopSettings fields (except the config) from parsed flags."""
    return settings_from_flags(
        values, list(_LOOP_FLAGS) + ["optimizer", "precision", "output_dir"],
        settings_class.FLAG_NAMES)


def warmup_steps(values: flags.FlagValues, settings_class: Type[LoopSettings],
                 num_train_steps: int, warmup_proportion: Optional[float]) -> Dict:
    """`num_warmup_steps` as the fine-tuning scripts set it: the flag when given, else
    `warmup_proportion` of the training steps (when the script has one), else the
    settings' default; {} to keep the default."""
    name = settings_class.FLAG_NAMES.get("num_warmup_steps", "num_warmup_steps")
    if values[name].present or warmup_proportion is None:
        return {}
    if not 0.0 <= warmup_proportion <= 1.0:
        raise SettingsError(f"--warmup_proportion must be in [0, 1], got {warmup_proportion}")
    return {"num_warmup_steps": int(num_train_steps * warmup_proportion)}


def model_overrides(values: flags.FlagValues) -> Dict[str, object]:
    """{config field: value} of the model flags given."""
    return {name: values[name].value for name in MODEL_FLAGS if values[name].value is not None}


def strategy_and_config(values: flags.FlagValues):
    """The strategy (created first: multi-worker collectives must be set up before any
    other TF work) and the AlbertConfig (`tasks.run_folder.run_config`: the flag, else the
    resumed run's, else the init checkpoint's, with the model flags given on top)."""
    from albert_tf.tasks.run_folder import run_config
    from albert_tf.training.distribution import create_strategy

    strategy = create_strategy(values.strategy, values.num_gpus, values.tpu)
    config = run_config(values.albert_config_file, values.preset, values.output_dir,
                        values.init_checkpoint, model_overrides(values))
    return strategy, config
