"""The ALBERT encoder: factorized embedding, shared transformer blocks, pooler."""

from typing import Any, Dict, List, Tuple, Union

import keras

from albert_tf.config import AlbertConfig
from albert_tf.layers.embedding import AlbertEmbedding
from albert_tf.layers.initializers import truncated_normal
from albert_tf.layers.transformer_block import TransformerBlock
from albert_tf.models.base import AlbertConfiguredModel, as_albert_config, encoder_inputs


def build_transformer_schedule(
    config: AlbertConfig, dtype=None
) -> Tuple[List[TransformerBlock], List[int]]:
    """Creates the distinct transformer blocks and the order in which they run.

    Step `(layer l, inner k)` runs a block whose attention half is keyed by
    `(group(l), k)` when attention is shared and by `(l, k)` otherwise, and likewise for
    the feed-forward half; steps with the same pair of keys run the same block. With
    `sharing="all"` this is the original's `group_<g>/inner_group_<k>` layout.

    Returns:
        `(blocks, schedule)`: the distinct blocks in creation order, and for each of the
        `num_hidden_layers * inner_group_num` steps the index of the block it runs.
    """
    share_attention = config.sharing in ("all", "attention")
    share_ffn = config.sharing in ("all", "ffn")
    attention_parts: Dict[tuple, keras.layers.Layer] = {}
    ffn_parts: Dict[tuple, keras.layers.Layer] = {}
    block_index: Dict[tuple, int] = {}
    blocks: List[TransformerBlock] = []
    schedule: List[int] = []
    for layer in range(config.num_hidden_layers):
        group = config.group_of_layer(layer)
        for inner in range(config.inner_group_num):
            attention_key = (group, inner) if share_attention else (layer, inner)
            ffn_key = (group, inner) if share_ffn else (layer, inner)
            key = (attention_key, ffn_key)
            if key not in block_index:
                block = TransformerBlock(
                    hidden_size=config.hidden_size,
                    num_attention_heads=config.num_attention_heads,
                    intermediate_size=config.intermediate_size,
                    hidden_act=config.hidden_act,
                    hidden_dropout_rate=config.hidden_dropout_prob,
                    attention_dropout_rate=config.attention_probs_dropout_prob,
                    initializer_range=config.initializer_range,
                    layer_norm_eps=config.layer_norm_eps,
                    attention=attention_parts.get(attention_key),
                    feed_forward=ffn_parts.get(ffn_key),
                    dtype=dtype,
                    name=f"transformer_block_{len(blocks)}",
                )
                attention_parts.setdefault(attention_key, block.attention)
                ffn_parts.setdefault(ffn_key, block.feed_forward)
                block_index[key] = len(blocks)
                blocks.append(block)
            schedule.append(block_index[key])
    return blocks, schedule


@keras.saving.register_keras_serializable(package="albert_tf")
class AlbertEncoder(AlbertConfiguredModel):
    """ALBERT encoder network.

    Inputs are a dict of int32 [batch, seq] tensors `input_ids`, `input_mask` (1 for real
    tokens, 0 for padding) and `segment_ids`. Outputs are a dict:
    `sequence_output` [batch, seq, H], `pooled_output` [batch, H] (dense + tanh on the
    first token) and `encoder_outputs`, the hidden states after every block step
    (`num_hidden_layers * inner_group_num` tensors of [batch, seq, H], as in the original).

    Args:
        config: An `AlbertConfig` (or its dict form).
        dtype: Optional dtype policy for every layer, e.g. `"mixed_bfloat16"`;
            by default the global Keras policy applies.

    Example:

    >>> import numpy as np
    >>> from albert_tf.config import AlbertConfig
    >>> encoder = AlbertEncoder(AlbertConfig.from_preset("tiny"))
    >>> ids = np.array([[2, 10, 11, 3, 0]], "int32")
    >>> outputs = encoder({"input_ids": ids, "input_mask": np.sign(ids),
    ...                    "segment_ids": np.zeros_like(ids)})
    >>> tuple(outputs["sequence_output"].shape), tuple(outputs["pooled_output"].shape)
    ((1, 5, 32), (1, 32))
    """

    def __init__(self, config, dtype=None, **kwargs):
        config = as_albert_config(config)
        embeddings = AlbertEmbedding(
            vocab_size=config.vocab_size,
            embedding_size=config.embedding_size,
            hidden_size=config.hidden_size,
            max_position_embeddings=config.max_position_embeddings,
            type_vocab_size=config.type_vocab_size,
            initializer_range=config.initializer_range,
            layer_norm_eps=config.layer_norm_eps,
            dropout_rate=config.hidden_dropout_prob,
            always_project=config.always_project_embeddings,
            project_first=config.embedding_layout == "project_first",
            dtype=dtype,
            name="embeddings",
        )
        blocks, schedule = build_transformer_schedule(config, dtype=dtype)
        pooler = keras.layers.Dense(
            config.hidden_size, activation="tanh",
            kernel_initializer=truncated_normal(config.initializer_range), dtype=dtype,
            name="pooler")

        inputs = encoder_inputs()
        hidden_states = embeddings(inputs["input_ids"], inputs["segment_ids"])  # [b, s, H]
        step_outputs = []
        for block_id in schedule:
            hidden_states = blocks[block_id](hidden_states, padding_mask=inputs["input_mask"])
            step_outputs.append(hidden_states)
        pooled_output = pooler(hidden_states[:, 0, :])  # [batch, H]
        outputs = {
            "sequence_output": hidden_states,
            "pooled_output": pooled_output,
            "encoder_outputs": step_outputs,
        }
        kwargs.setdefault("name", "albert_encoder")
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self._finish_init(config, dtype, inputs)
        self.embeddings = embeddings
        self.transformer_blocks = blocks
        self.block_schedule = schedule
        self.pooler = pooler


def encoder_from(encoder: Union["AlbertEncoder", AlbertConfig, Dict[str, Any]],
                 dtype=None) -> "AlbertEncoder":
    """`encoder` itself when it is an encoder; a fresh `AlbertEncoder(encoder, dtype)` when
    it is a config (or its dict form), for task models built straight from a config."""
    if isinstance(encoder, AlbertEncoder):
        return encoder
    if isinstance(encoder, (AlbertConfig, dict)):
        return AlbertEncoder(encoder, dtype=dtype)
    raise TypeError(f"expected an AlbertEncoder or an AlbertConfig, got "
                    f"{type(encoder).__name__}")
