"""Reading TFRecords back with tf.train.Example (not with this project's pipeline)."""

import numpy as np
import tensorflow as tf


def read_records(paths):
    """Every record of the files as {feature name: NumPy array}."""
    rows = []
    for path in paths:
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            feature = tf.train.Example.FromString(record).features.feature
            rows.append({name: np.array(value.int64_list.value or value.float_list.value)
                         for name, value in feature.items()})
    return rows
