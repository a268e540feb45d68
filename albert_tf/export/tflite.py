"""LiteRT (TFLite) models of a fine-tuned classifier or an encoder, for phones and edge
devices: `model.tflite` (float32) and `model_int8.tflite` (dynamic-range quantization:
int8 weights, float activations), each with one `serve_ids` signature taking int32
`input_ids`, `input_mask`, `segment_ids` [batch, seq] (any batch and length up to
`max_seq_length`: resize the inputs) and returning what the SavedModel's `serve_ids`
returns (classifier: `logits`, `probabilities`; regressor: `score`; encoder:
`pooled_output`, `sequence_output`).

The raw-text path stays out: the original's text preprocessing (NFKD, accent stripping,
lower-casing, control-character removal) and the packing need TensorFlow ops that LiteRT's
builtin set lacks, so a raw-text signature would need the Flex delegate (the full
TensorFlow runtime, tens of MB) on the device. The tokenizer file goes beside the models
instead (`spiece.model` or `vocab.txt`, and `labels.txt`), for the app's own tokenizer.

Example:

    >>> import tempfile, numpy as np
    >>> from albert_tf.config import AlbertConfig
    >>> from albert_tf.models.classifier import AlbertClassifier
    >>> model = AlbertClassifier(AlbertConfig.from_preset("tiny"), num_classes=2)
    >>> flat = tflite_model(model, max_seq_length=16)
    >>> run = TfliteRunner(flat)
    >>> ids = np.array([[2, 10, 11, 3]], "int32")
    >>> run(ids, np.ones_like(ids), np.zeros_like(ids))["logits"].shape
    (1, 2)
"""

import os
import shutil
import tempfile
from typing import Dict, Optional, Sequence

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import (
    convert_variables_to_constants_v2)

from albert_tf.data.packing import check_sequence_length
from albert_tf.data.tokenizers import Tokenizer
from albert_tf.errors import AlbertTfError
from albert_tf.io_utils import atomic_folder
from albert_tf.models.classifier import AlbertClassifier
from albert_tf.models.encoder import AlbertEncoder

QUANTIZATIONS = ("float32", "dynamic_int8")
MODEL_FILES = {"float32": "model.tflite", "dynamic_int8": "model_int8.tflite"}
SIGNATURE = "serve_ids"
INPUTS = ("input_ids", "input_mask", "segment_ids")


class TfliteError(AlbertTfError, ValueError):
    """A model LiteRT cannot hold, or a request it cannot run."""


class _IdsModule(tf.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        self.is_encoder = isinstance(model, AlbertEncoder)
        self.regression = not self.is_encoder and model.num_classes == 1

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name=name)
                                  for name in INPUTS])
    def serve_ids(self, input_ids, input_mask, segment_ids):
        features = {"input_ids": input_ids, "input_mask": input_mask,
                    "segment_ids": segment_ids}
        outputs = self.model(features, training=False)
        if self.is_encoder:
            return {"pooled_output": outputs["pooled_output"],  # [batch, H]
                    "sequence_output": outputs["sequence_output"]}  # [batch, seq, H]
        if self.regression:
            return {"score": outputs[:, 0]}
        return {"logits": outputs, "probabilities": tf.nn.softmax(outputs, axis=-1)}


def tflite_model(model, quantization: str = "float32", max_seq_length: int = 128) -> bytes:
    """The flatbuffer of `model` (an `AlbertClassifier` or `AlbertEncoder` computing in
    float32) with the `serve_ids` signature."""
    if quantization not in QUANTIZATIONS:
        raise TfliteError(f"quantization {quantization!r}: expected one of "
                          f"{', '.join(QUANTIZATIONS)}")
    if not isinstance(model, (AlbertClassifier, AlbertEncoder)):
        raise TfliteError(f"a LiteRT export holds a classifier or an encoder, not an "
                          f"{type(model).__name__} (question answering: --encoder_only)")
    config = (model if isinstance(model, AlbertEncoder) else model.encoder).albert_config
    check_sequence_length(max_seq_length, config.max_position_embeddings)
    module = _IdsModule(model)
    # Frozen to constants first: converted from the SavedModel of the live model, Keras 3
    # variables stay resource variables that LiteRT's interpreter never initializes (NaN
    # outputs). The frozen graph goes through a SavedModel of its own so that the
    # signature keeps its name and its output names.
    concrete = module.serve_ids.get_concrete_function()
    frozen = convert_variables_to_constants_v2(concrete)
    output_names = sorted(concrete.structured_outputs)  # the order of the flat outputs

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name=name)
                                  for name in INPUTS])
    def serve_ids(input_ids, input_mask, segment_ids):
        return dict(zip(output_names, frozen(input_ids, input_mask, segment_ids)))

    folder = tempfile.mkdtemp(prefix="albert-tflite-")
    try:
        holder = tf.Module()
        holder.serve_ids = serve_ids
        tf.saved_model.save(holder, folder, signatures={SIGNATURE: serve_ids})
        converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=[SIGNATURE])
        if quantization == "dynamic_int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        return converter.convert()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def interpreter_class():
    """LiteRT's interpreter (`ai-edge-litert`) when installed, else TensorFlow's own."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    return Interpreter


class TfliteRunner:
    """Runs a `serve_ids` LiteRT model on NumPy ids; inputs of any [batch, seq] shape."""

    def __init__(self, flatbuffer: bytes, num_threads: Optional[int] = None):
        self.interpreter = interpreter_class()(model_content=flatbuffer,
                                               num_threads=num_threads)
        self.runner = self.interpreter.get_signature_runner(SIGNATURE)

    def __call__(self, input_ids, input_mask, segment_ids) -> Dict[str, np.ndarray]:
        return self.runner(input_ids=np.asarray(input_ids, np.int32),
                           input_mask=np.asarray(input_mask, np.int32),
                           segment_ids=np.asarray(segment_ids, np.int32))


def write_tflite(model, output_dir: str, tokenizer: Optional[Tokenizer],
                 max_seq_length: int, labels: Optional[Sequence[str]] = None,
                 quantizations: Sequence[str] = QUANTIZATIONS,
                 flag: str = "export_dir") -> Dict[str, str]:
    """Writes each quantization's model, the tokenizer file and `labels.txt` into the new
    (or empty) `output_dir`; returns quantization -> file written."""
    models = {quantization: tflite_model(model, quantization, max_seq_length)
              for quantization in quantizations}
    written = {}
    with atomic_folder(output_dir, flag) as folder:
        for quantization, flatbuffer in models.items():
            with open(os.path.join(folder, MODEL_FILES[quantization]), "wb") as handle:
                handle.write(flatbuffer)
            written[quantization] = os.path.join(output_dir, MODEL_FILES[quantization])
        if tokenizer is not None:
            name = "spiece.model" if tokenizer.file_setting == "spm_model_file" else "vocab.txt"
            shutil.copyfile(tokenizer.source_file, os.path.join(folder, name))
        if labels:
            with open(os.path.join(folder, "labels.txt"), "w", encoding="utf-8") as handle:
                handle.writelines(f"{label}\n" for label in labels)
    return written
