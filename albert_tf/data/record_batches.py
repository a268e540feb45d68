"""The tf.data input of fine-tuning records (classification, question answering): one
file, parsed in batches, integers as int32, optionally batched by length."""

from typing import Dict, Optional, Sequence

import tensorflow as tf

from albert_tf.data.length_batches import length_batches

PARSE_BATCH = 256


def parsed_batches(path: str, spec: Dict[str, tf.io.FixedLenFeature], batch_size: int,
                   is_training: bool,
                   input_context: Optional[tf.distribute.InputContext] = None,
                   seed: Optional[int] = None, shuffle_buffer: int = 10000,
                   by_length: Sequence[str] = (), pad_to_bucket: bool = False
                   ) -> tf.data.Dataset:
    """Batches of the records of `path` parsed with `spec` (int64 features as int32).
    Training data is sharded per input pipeline, shuffled, repeated, and drops the last
    partial batch; evaluation and prediction data keeps every record, in file order
    unless batched by length.

    `by_length` names the [max_seq_length] features: when given, examples are batched
    by length and those features cut to each batch's longest (see `length_batches`;
    evaluation batches then carry `example_index`)."""
    dataset = tf.data.TFRecordDataset(path)
    group_size = batch_size  # what one input pipeline reads per update
    if input_context:
        group_size = batch_size // input_context.num_input_pipelines
        batch_size = input_context.get_per_replica_batch_size(batch_size)
        if is_training:
            dataset = dataset.shard(input_context.num_input_pipelines,
                                    input_context.input_pipeline_id)
    if is_training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed).repeat()

    def parse(records):
        parsed = tf.io.parse_example(records, spec)
        return {name: tf.cast(value, tf.int32) if value.dtype == tf.int64 else value
                for name, value in parsed.items()}

    if by_length:
        # Parsing is vectorized over a batch, so parse in batches and regroup.
        examples = dataset.batch(PARSE_BATCH).map(
            parse, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
        max_seq_length = spec[by_length[0]].shape[0]
        dataset = length_batches(examples, batch_size, max_seq_length, by_length,
                                 is_training, seed, pad_to_bucket, group_size=group_size)
    else:
        dataset = dataset.batch(batch_size, drop_remainder=is_training).map(
            parse, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)
