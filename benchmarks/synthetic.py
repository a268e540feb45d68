"""The synthetic pretraining batch the training benchmarks step on (NumPy only, so the
JAX-backend benchmark can use it where TensorFlow is not installed)."""

import numpy as np


def synthetic_batch(config, batch: int, seq: int, predictions: int, seed: int = 0):
    """Random ids, two segments, `predictions` sorted masked positions per sequence."""
    rng = np.random.default_rng(seed)
    segments = np.zeros((batch, seq), "int32")
    segments[:, seq // 2:] = 1
    return {
        "input_ids": rng.integers(5, config.vocab_size, (batch, seq)).astype("int32"),
        "input_mask": np.ones((batch, seq), "int32"),
        "segment_ids": segments,
        "masked_lm_positions": np.sort(np.stack([
            rng.choice(np.arange(1, seq), predictions, replace=False) for _ in range(batch)]),
            axis=1).astype("int32"),
        "masked_lm_ids": rng.integers(5, config.vocab_size, (batch, predictions)).astype(
            "int32"),
        "masked_lm_weights": np.ones((batch, predictions), "float32"),
        "next_sentence_labels": rng.integers(0, 2, (batch,)).astype("int32"),
    }
