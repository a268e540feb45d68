"""What a training step of a model costs, for model-FLOPs utilization (no TensorFlow here:
the JAX-backend benchmark imports it too)."""

from albert_tf.config import AlbertConfig


def model_flops_per_sequence(config: AlbertConfig, seq_length: int, predictions: int = 0,
                             num_classes: int = 2) -> float:
    """Training FLOPs of one sequence (forward + backward = 3x forward; a multiply-add
    counts 2), for model-FLOPs utilization. `predictions` masked-LM positions go through
    the vocabulary projection; the pooler and a `num_classes` head sit on top.

    >>> from albert_tf.config import AlbertConfig
    >>> f"{model_flops_per_sequence(AlbertConfig.from_preset('base'), 128, 20) / 1e9:.1f}"
    '67.6'
    """
    hidden, inter = config.hidden_size, config.intermediate_size
    per_layer = (2 * seq_length * (4 * hidden * hidden + 2 * hidden * inter)
                 + 2 * 2 * seq_length * seq_length * hidden)
    embedding = 2 * seq_length * config.embedding_size * hidden
    # brightmart's layout transforms to H, then projects back to E.
    transform = (hidden * hidden + hidden * config.embedding_size
                 if config.embedding_layout == "project_first"
                 else hidden * config.embedding_size)
    mlm_head = 2 * predictions * (transform + config.embedding_size * config.vocab_size)
    pooled_heads = 2 * (hidden * hidden + hidden * num_classes)
    return 3.0 * (config.num_hidden_layers * per_layer + embedding + mlm_head + pooled_heads)
