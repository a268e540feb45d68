"""Prints the parameter table of an ALBERT configuration or preset.

Examples:
    albert-params --preset=base
    albert-params --preset=base --sharing=none
    albert-params --albert_config_file=albert_config.json
"""

from absl import app, flags

from albert_tf.cli.script import entry_point  # first: it quiets TensorFlow's C++ logs
from albert_tf.config import PRESETS, SHARING_MODES, AlbertConfig

flags.DEFINE_string("albert_config_file", None, "Path to an albert_config.json.")
flags.DEFINE_enum("preset", None, list(PRESETS), "A built-in configuration.")
flags.DEFINE_enum("sharing", None, list(SHARING_MODES), "Override the cross-layer sharing mode.")
flags.DEFINE_integer("embedding_size", None, "Override the embedding size E.")


# The table is read from a model built in float32: ~4 bytes a parameter.
MAX_PARAMETERS = 4e9


def rough_parameter_count(config: AlbertConfig) -> float:
    """An upper estimate (every layer owning its block), cheap enough to check before a
    mistyped size makes the model builder allocate terabytes."""
    hidden, inter, embedding = config.hidden_size, config.intermediate_size, \
        config.embedding_size
    tables = (config.vocab_size + config.max_position_embeddings + config.type_vocab_size) \
        * embedding
    block = 4 * hidden * hidden + 2 * hidden * inter
    return float(tables + embedding * hidden + config.num_hidden_layers
                 * config.inner_group_num * block + hidden * hidden + hidden * embedding
                 + config.vocab_size)


def main(values):
    if (values.albert_config_file is None) == (values.preset is None):
        raise app.UsageError("give exactly one of --albert_config_file or --preset")
    overrides = {}
    if values.sharing is not None:
        overrides["sharing"] = values.sharing
    if values.embedding_size is not None:
        overrides["embedding_size"] = values.embedding_size
    if values.preset is not None:
        config = AlbertConfig.from_preset(values.preset, **overrides)
        source = f"preset {values.preset}"
    else:
        config = AlbertConfig.from_json_file(values.albert_config_file).replace(**overrides)
        source = values.albert_config_file
    estimate = rough_parameter_count(config)
    if estimate > MAX_PARAMETERS:
        raise SystemExit(f"albert-params: {source} describes about {estimate:.3g} parameters; "
                         f"the table is read from a built model, and more than "
                         f"{MAX_PARAMETERS:.0e} would not fit in memory (check the sizes)")

    from albert_tf.models import AlbertPretrainer  # noqa: E402 (TensorFlow import is slow)
    from albert_tf.models.parameter_table import format_parameter_table, parameter_breakdown

    breakdown = parameter_breakdown(AlbertPretrainer(config))
    title = (
        f"ALBERT {source}: V={config.vocab_size} E={config.embedding_size} "
        f"H={config.hidden_size} L={config.num_hidden_layers} "
        f"groups={config.num_hidden_groups}x{config.inner_group_num} sharing={config.sharing}"
    )
    print(format_parameter_table(breakdown, title))


run = entry_point("albert-params", main)


if __name__ == "__main__":
    run()
