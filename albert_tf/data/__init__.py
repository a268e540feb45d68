"""Text to training batches: tokenization, pretraining instances, tf.data pipelines."""
