"""How a model's transformer blocks sit in another library's layout of shared groups
(the original's `group_<g>/inner_group_<k>`, Hugging Face's and keras-hub's), and the error
every conversion raises."""

from typing import Callable, Dict, Tuple

from albert_tf.errors import AlbertTfError


class ConversionError(AlbertTfError, ValueError):
    """A source that cannot be converted; the message names the variable or file."""


BlockPositions = Dict[int, Tuple[int, int]]  # our block index -> (group, inner)


def block_positions(encoder) -> BlockPositions:
    """Block index -> (group, inner) of the original layout (needs sharing="all")."""
    config = encoder.albert_config
    if config.sharing != "all":
        raise ConversionError(f"checkpoints of the original layout share whole blocks; the "
                              f"config's sharing={config.sharing!r} has no counterpart")
    positions = {}
    for step, block in enumerate(encoder.block_schedule):
        layer, inner = divmod(step, config.inner_group_num)
        positions.setdefault(block, (config.group_of_layer(layer), inner))
    return positions


def exported_block_positions(encoder, target: str,
                             group_of_layer: Callable[[int, int, int], int]
                             ) -> Tuple[BlockPositions, int]:
    """(block index -> (group, inner), number of groups) of `encoder` in a library that
    shares whole blocks by groups and assigns layer l of L to group
    `group_of_layer(l, L, groups)`; refuses what that layout cannot express, naming the
    setting (`target` names the library)."""
    config = encoder.albert_config
    if config.sharing == "all":
        groups = config.num_hidden_groups
    elif config.sharing == "none":
        groups = config.num_hidden_layers  # every layer its own group
    else:
        raise ConversionError(
            f"sharing={config.sharing!r} shares only the {config.sharing} half of each "
            f"block across layers; {target} shares whole blocks (sharing all or none)")
    positions: BlockPositions = {}
    for step, block in enumerate(encoder.block_schedule):
        layer, inner = divmod(step, config.inner_group_num)
        position = (group_of_layer(layer, config.num_hidden_layers, groups), inner)
        if positions.setdefault(block, position) != position or list(
                positions.values()).count(position) > 1:
            raise ConversionError(
                f"num_hidden_groups={config.num_hidden_groups} over num_hidden_layers="
                f"{config.num_hidden_layers}: {target} runs layer {layer} in group "
                f"{position[0]}, the original formula int(layer / layers * groups) in group "
                f"{config.group_of_layer(layer)}; it cannot hold this model")
    return positions, groups
