"""The tf.data input of fine-tuning records (classification, question answering): one
file, parsed in batches, integers as int32."""

from typing import Dict, Optional

import tensorflow as tf


def parsed_batches(path: str, spec: Dict[str, tf.io.FixedLenFeature], batch_size: int,
                   is_training: bool,
                   input_context: Optional[tf.distribute.InputContext] = None,
                   seed: Optional[int] = None, shuffle_buffer: int = 10000) -> tf.data.Dataset:
    """Batches of the records of `path` parsed with `spec` (int64 features as int32).
    Training data is sharded per input pipeline, shuffled, repeated, and drops the last
    partial batch; evaluation and prediction data keeps every record in file order."""
    dataset = tf.data.TFRecordDataset(path)
    if input_context:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        if is_training:
            dataset = dataset.shard(input_context.num_input_pipelines,
                                    input_context.input_pipeline_id)
    if is_training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed).repeat()
    dataset = dataset.batch(batch_size, drop_remainder=is_training)

    def parse(records):
        parsed = tf.io.parse_example(records, spec)
        return {name: tf.cast(value, tf.int32) if value.dtype == tf.int64 else value
                for name, value in parsed.items()}

    return dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
