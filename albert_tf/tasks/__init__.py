"""Training tasks: each a `Task` (albert_tf.training.task) that the one loop runs."""
