"""The feature schema: every record feature's name, length and type, written once.

The names are the original TFRecords' (google-research/albert's create_pretraining_data
and run_classifier), so records of either tool read the same way. The writers take the
names from here, the readers check records against `pretraining_record_schema` and parse
them with the specs built from it, and the models name their inputs with
`ENCODER_FEATURES`. Nothing here imports TensorFlow until a parse spec is asked for (the
data workers never ask).

Example:

>>> schema = pretraining_record_schema(128, 20, dynamic_masking=False)
>>> schema["masked_lm_weights"]
Feature(length=20, dtype='float32', sets='max_predictions_per_seq')
>>> schema["next_sentence_labels"]
Feature(length=1, dtype='int64', sets=None)
"""

from typing import Dict, NamedTuple, Optional, Sequence

ENCODER_FEATURES = ("input_ids", "input_mask", "segment_ids")  # each [seq] int
MASKED_LM_FEATURES = ("masked_lm_positions", "masked_lm_ids", "masked_lm_weights")
SENTENCE_ORDER_LABEL = "next_sentence_labels"  # 1 = segments swapped (SOP) / random (NSP)
TOKEN_BOUNDARY = "token_boundary"  # unmasked records: 1 where a word starts
CLASSIFIER_LABEL = "label_ids"  # int64 class id, or float32 score for regression


class Feature(NamedTuple):
    """One record feature: its list length, its dtype, and the setting that fixes the
    length (None when it is always the same)."""

    length: int
    dtype: str
    sets: Optional[str]


def pretraining_record_schema(max_seq_length: int, max_predictions_per_seq: int,
                              dynamic_masking: bool) -> Dict[str, Feature]:
    """The features of a pretraining record: masked ones carry the `masked_lm_*` triple,
    unmasked ones (written for dynamic masking) `token_boundary` instead."""
    sequence = Feature(max_seq_length, "int64", "max_seq_length")
    schema = {name: sequence for name in ENCODER_FEATURES}
    schema[SENTENCE_ORDER_LABEL] = Feature(1, "int64", None)
    if dynamic_masking:
        schema[TOKEN_BOUNDARY] = sequence
    else:
        predictions = Feature(max_predictions_per_seq, "int64", "max_predictions_per_seq")
        schema.update({name: predictions for name in MASKED_LM_FEATURES})
        schema["masked_lm_weights"] = predictions._replace(dtype="float32")
    return schema


def classifier_record_schema(max_seq_length: int, regression: bool) -> Dict[str, Feature]:
    """The features of a fine-tuning record (one example, packed)."""
    schema = {name: Feature(max_seq_length, "int64", "max_seq_length")
              for name in ENCODER_FEATURES}
    schema[CLASSIFIER_LABEL] = Feature(1, "float32" if regression else "int64", None)
    return schema


QA_POSITIONS = ("start_positions", "end_positions")  # the answer's first and last token


P_MASK = "p_mask"  # 1 where no answer can start or end (SQuAD v2.0 models read it)
IS_IMPOSSIBLE = "is_impossible"  # the window does not hold the answer


def qa_record_schema(max_seq_length: int, is_training: bool,
                     answerability: bool = False) -> Dict[str, Feature]:
    """The features of a question-answering window (with the answer for training, and
    `p_mask` / `is_impossible` for the SQuAD v2.0 model)."""
    sequence = Feature(max_seq_length, "int64", "max_seq_length")
    schema = {name: sequence for name in ENCODER_FEATURES}
    if answerability:
        schema[P_MASK] = sequence
    if is_training:
        schema.update({name: Feature(1, "int64", None) for name in QA_POSITIONS})
        if answerability:
            schema[IS_IMPOSSIBLE] = Feature(1, "int64", None)
    return schema


def parse_spec(schema: Dict[str, Feature], scalars: Sequence[str] = ()):
    """`tf.io.parse_example` specs for a schema; the length-1 features named in `scalars`
    parse as scalars ([batch] rather than [batch, 1])."""
    import tensorflow as tf

    return {name: tf.io.FixedLenFeature([] if name in scalars else [feature.length],
                                        tf.as_dtype(feature.dtype))
            for name, feature in schema.items()}
